"""The NS16550A UART (QEMU's `serial` device): 16-byte receive FIFO, one interrupt line."""

from __future__ import annotations

from collections.abc import Callable

from .board import Bus, Device, DeviceState

FIFO_SIZE = 16
RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
IER_RX, IER_THRE = 0x01, 0x02
LSR_DR, LSR_THRE, LSR_TEMT = 0x01, 0x20, 0x40
IIR_NONE, IIR_THRE, IIR_RX = 0x01, 0x02, 0x04
IIR_FIFO = 0xC0
LCR_DLAB = 0x80


class Ns16550a(Device):
    """Transmits at once (output goes to the bus); receives from `receive`."""

    name = "uart0"

    def __init__(self, bus: Bus, base: int, line: Callable[[bool], None], port: int = 0) -> None:
        super().__init__(bus, base, 0x100)
        self._line = line
        self.port = port
        self.rx = bytearray()
        self.ier = self.lcr = self.mcr = self.scr = self.fcr = 0
        self.divisor = 0
        self.thr_pending = False  # the transmitter-empty interrupt, until IIR is read

    # -- the receive side the platform feeds ---------------------------------------------------

    def rx_room(self) -> int:
        return FIFO_SIZE - len(self.rx)

    def receive(self, data: bytes) -> None:
        self.rx += data[: self.rx_room()]
        self._update()

    # -- registers ---------------------------------------------------------------------------

    def _iir(self) -> int:
        if self.ier & IER_RX and self.rx:
            return IIR_RX
        if self.ier & IER_THRE and self.thr_pending:
            return IIR_THRE
        return IIR_NONE

    def line(self) -> bool:
        """The interrupt output's level."""
        return self._iir() != IIR_NONE

    def _update(self) -> None:
        self._line(self.line())

    def read(self, offset: int, size: int) -> int:
        reg = offset & 7
        if self.lcr & LCR_DLAB and reg in (RBR_THR, IER):
            return (self.divisor >> (8 * reg)) & 0xFF
        if reg == RBR_THR:
            value = self.rx.pop(0) if self.rx else 0
            self._update()
            self.bus.interrupts_changed()
            return value
        if reg == IER:
            return self.ier
        if reg == IIR_FCR:
            iir = self._iir()
            if iir == IIR_THRE:
                self.thr_pending = False
                self._update()
                self.bus.interrupts_changed()
            return iir | (IIR_FIFO if self.fcr & 1 else 0)
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            return LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0)
        if reg == MSR:
            return 0xB0  # DCD, DSR, CTS: a terminal is attached
        return self.scr

    def write(self, offset: int, size: int, value: int) -> None:
        reg, value = offset & 7, value & 0xFF
        if self.lcr & LCR_DLAB and reg in (RBR_THR, IER):
            shift = 8 * reg
            self.divisor = (self.divisor & ~(0xFF << shift)) | (value << shift)
            return
        if reg == RBR_THR:
            self.bus.output(self.port, bytes([value]))
            self.thr_pending = True  # sent at once: the holding register is empty again
        elif reg == IER:
            if value & IER_THRE and not self.ier & IER_THRE:
                self.thr_pending = True  # enabling it with the register empty raises it
            self.ier = value & 0x0F
        elif reg == IIR_FCR:
            self.fcr = value & 0xC9
            if value & 0x02:
                self.rx.clear()
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self.mcr = value & 0x1F
        elif reg == SCR:
            self.scr = value
        self._update()
        self.bus.interrupts_changed()

    def state(self) -> DeviceState:
        return {
            "rx": self.rx.hex(),
            "ier": self.ier,
            "lcr": self.lcr,
            "mcr": self.mcr,
            "scr": self.scr,
            "fcr": self.fcr,
            "divisor": self.divisor,
            "thr_pending": self.thr_pending,
        }

    def load(self, state: DeviceState) -> None:
        rx = bytes.fromhex(state["rx"])
        if len(rx) > FIFO_SIZE:
            raise ValueError("uart receive FIFO over 16 bytes")
        self.rx = bytearray(rx)
        self.ier, self.lcr, self.mcr = int(state["ier"]), int(state["lcr"]), int(state["mcr"])
        self.scr, self.fcr = int(state["scr"]), int(state["fcr"])
        self.divisor, self.thr_pending = int(state["divisor"]), bool(state["thr_pending"])

    def registers(self) -> dict[str, int]:
        return {
            "IER": self.ier,
            "IIR": self._iir(),
            "LCR": self.lcr,
            "MCR": self.mcr,
            "LSR": LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0),
            "rx_fifo_level": len(self.rx),
        }
