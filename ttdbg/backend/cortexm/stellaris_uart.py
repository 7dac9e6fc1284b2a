"""The Stellaris UART (a PL011 with Luminary's ID registers), as QEMU models it: a 16-byte
receive FIFO (1 byte with the FIFO disabled), transmission that completes at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import NotModelled

FR_RXFE, FR_TXFF, FR_RXFF, FR_TXFE = 0x10, 0x20, 0x40, 0x80
INT_RX, INT_TX = 0x10, 0x20
LCRH_FEN = 0x10
FIFO_DEPTH = 16
ID_LUMINARY = (0x11, 0x00, 0x18, 0x01, 0x0D, 0xF0, 0x05, 0xB1)  # 0xFE0..0xFFC
ID_ARM = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)  # the plain PL011 (QEMU's virt)

# Registers kept as written (baud rate, line control, ...): they shape the serial line, which
# an emulated console does not have; QEMU stores them the same way.
_STORED = {0x020: "ilpr", 0x024: "ibrd", 0x028: "fbrd", 0x030: "cr", 0x034: "ifls"}
_STORED_MASK = {"ilpr": 0xFF, "ibrd": 0xFFFF, "fbrd": 0x3F, "cr": 0xFFFF, "ifls": 0x3F}
_RESET = {"ilpr": 0, "ibrd": 0, "fbrd": 0, "cr": 0x300, "ifls": 0x12}


@dataclass
class StellarisUart:
    """UART0's registers and FIFO; `output` receives every transmitted byte, `irq` the state
    of the interrupt line after each change."""

    output: Callable[[int], None] = lambda byte: None
    irq: Callable[[bool], None] = lambda high: None
    fifo: list[int] = field(default_factory=list)
    lcrh: int = 0
    im: int = 0
    ris: int = 0
    rsr: int = 0
    regs: dict[str, int] = field(default_factory=lambda: dict(_RESET))
    ids: tuple[int, ...] = ID_LUMINARY  # the peripheral and cell ID registers

    @property
    def depth(self) -> int:
        return FIFO_DEPTH if self.lcrh & LCRH_FEN else 1

    def can_receive(self) -> bool:
        """Whether a byte from the console fits (QEMU's pl011_can_receive): input waits
        otherwise, so fast input is never dropped."""
        return len(self.fifo) < self.depth

    def receive(self, byte: int) -> None:
        if not self.can_receive():
            raise ValueError("the UART receive FIFO is full")
        self.fifo.append(byte & 0xFF)
        if len(self.fifo) == 1:  # QEMU's read trigger is always 1
            self.ris |= INT_RX
        self._update()

    def flags(self) -> int:
        fr = FR_TXFE
        if not self.fifo:
            fr |= FR_RXFE
        if len(self.fifo) >= self.depth:
            fr |= FR_RXFF
        return fr

    def _update(self) -> None:
        self.irq(bool(self.ris & self.im))

    # -- registers ------------------------------------------------------------------------

    def read(self, offset: int) -> int:
        if offset == 0x000:
            byte = self.fifo.pop(0) if self.fifo else 0
            if not self.fifo:
                self.ris &= ~INT_RX
            self._update()
            return byte
        if 0xFE0 <= offset <= 0xFFC and offset % 4 == 0:
            return self.ids[(offset - 0xFE0) // 4]
        value = {
            0x004: lambda: self.rsr,
            0x018: self.flags,
            0x02C: lambda: self.lcrh,
            0x038: lambda: self.im,
            0x03C: lambda: self.ris,
            0x040: lambda: self.ris & self.im,
            0x048: lambda: 0,  # DMACTL: DMA is never enabled (writes refuse it)
        }.get(offset)
        if value is not None:
            return value()
        name = _STORED.get(offset)
        if name is None:
            raise NotModelled(f"UART register at offset {offset:#x}")
        return self.regs[name]

    def write(self, offset: int, value: int) -> None:
        if offset == 0x000:
            self.output(value & 0xFF)
            self.ris |= INT_TX
            self._update()
        elif offset == 0x004:
            self.rsr = 0
        elif offset == 0x018:
            pass  # FR is read-only; the PL011 ignores writes
        elif offset == 0x02C:
            if (self.lcrh ^ value) & LCRH_FEN:
                self.fifo.clear()
            if value & 0x1:
                raise NotModelled("UART break (LCRH.BRK)")
            self.lcrh = value & 0xFF
        elif offset == 0x038:
            self.im = value & 0x7FF
            self._update()
        elif offset == 0x044:
            self.ris &= ~value
            self._update()
        elif offset == 0x048:
            if value & 0x3:
                raise NotModelled("UART DMA (DMACTL)")
        elif offset in _STORED:
            name = _STORED[offset]
            if name == "cr" and value & 0x80:
                raise NotModelled("UART loopback (CTL.LBE)")
            self.regs[name] = value & _STORED_MASK[name]
        else:
            raise NotModelled(f"UART register at offset {offset:#x}")

    # -- snapshots --------------------------------------------------------------------------

    def state(self) -> dict[str, object]:
        return {
            "fifo": list(self.fifo),
            "lcrh": self.lcrh,
            "im": self.im,
            "ris": self.ris,
            "rsr": self.rsr,
            "regs": dict(self.regs),
        }

    def restore(self, state: dict[str, object]) -> None:
        fifo, regs = state["fifo"], state["regs"]
        if (
            not isinstance(fifo, list)
            or len(fifo) > FIFO_DEPTH
            or not all(isinstance(b, int) and 0 <= b <= 0xFF for b in fifo)
        ):
            raise ValueError("bad UART FIFO in snapshot")
        if (
            not isinstance(regs, dict)
            or set(regs) != set(_RESET)
            or not all(isinstance(v, int) and 0 <= v <= _STORED_MASK[k] for k, v in regs.items())
        ):
            raise ValueError("bad UART registers in snapshot")
        words = {}
        for key, limit in (("lcrh", 0xFF), ("im", 0x7FF), ("ris", 0x7FF), ("rsr", 0xF)):
            value = state[key]
            if not isinstance(value, int) or not 0 <= value <= limit:
                raise ValueError(f"bad UART {key} in snapshot")
            words[key] = value
        self.fifo = list(fifo)
        self.regs = dict(regs)
        self.lcrh, self.im, self.ris, self.rsr = (
            words["lcrh"],
            words["im"],
            words["ris"],
            words["rsr"],
        )
