"""The ARM PL011 UART as a bus device (QEMU's model, `StellarisUart`, with the chip's ID
registers): serial port 0, one interrupt line."""

from __future__ import annotations

from collections.abc import Callable

from ..cortexm.errors import NotModelled
from ..cortexm.stellaris_uart import ID_ARM, StellarisUart
from .board import Bus, Device, DeviceState, SerialPort


class Pl011(Device, SerialPort):
    """A PL011 at `base`; `line` receives its interrupt output after each change."""

    name = "uart0"

    def __init__(
        self,
        bus: Bus,
        base: int,
        line: Callable[[bool], None],
        ids: tuple[int, ...] = ID_ARM,
    ) -> None:
        super().__init__(bus, base, 0x1000)
        self.model = StellarisUart(
            output=lambda byte: bus.output(0, bytes([byte])), irq=line, ids=ids
        )

    def read(self, offset: int, size: int) -> int:
        try:
            return self._sized(offset, size, self.model.read(offset & ~3))
        except NotModelled as err:
            self.bus.fail(f"{err} at {self.base + offset:#x} (not modelled)")
            return 0

    def write(self, offset: int, size: int, value: int) -> None:
        try:
            if offset & 3:
                raise NotModelled(f"unaligned {size}-byte UART write")
            self.model.write(offset, value)
        except NotModelled as err:
            self.bus.fail(f"{err} at {self.base + offset:#x} (not modelled)")

    @staticmethod
    def _sized(offset: int, size: int, word: int) -> int:
        shift = 8 * (offset & 3)
        return (word >> shift) & ((1 << (8 * size)) - 1)

    def rx_room(self) -> int:
        return self.model.depth - len(self.model.fifo)

    def receive(self, data: bytes) -> None:
        for byte in data:
            self.model.receive(byte)

    def line(self) -> bool:
        """The interrupt output's level."""
        return bool(self.model.ris & self.model.im)

    def state(self) -> DeviceState:
        return self.model.state()

    def load(self, state: DeviceState) -> None:
        self.model.restore(state)

    def registers(self) -> dict[str, int]:
        m = self.model
        return {
            "FR": m.flags(),
            "LCRH": m.lcrh,
            "IM": m.im,
            "RIS": m.ris,
            "MIS": m.ris & m.im,
            "RX FIFO": len(m.fifo),
        }
