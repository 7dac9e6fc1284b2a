"""A firmware board's device registers at the position, those changed since the last stop lit."""

from __future__ import annotations

from functools import partial

from rich.text import Text

from ..view import DeviceRegisters
from .pane import Pane, RowMemo


def _device_row(name: str, base: int | None) -> Text:
    # (Spaces end a run of text rather than start one: SVG renderers drop leading ones.)
    row = Text(f"{name} ", style="bold")
    row.append(f"@ {base:#x}" if base is not None else "(system registers)", style="dim")
    return row


def _register_row(name: str, value: int, lit: bool) -> Text:
    row = Text()
    row.append(f"  {name:<14} ", style="dim")
    digits = 16 if value > 0xFFFF_FFFF else 8
    row.append(f"{value:0{digits}x} ", style="bold yellow" if lit else "")
    if value > 9:
        row.append(f"{value}", style="dim")
    return row


class Peripherals(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="peripherals", id=id)
        self._memo = RowMemo()

    def show(
        self, devices: tuple[DeviceRegisters, ...], before: tuple[DeviceRegisters, ...]
    ) -> None:
        """`devices` now; a register whose value differs from `before` (the last stop) is lit."""
        old = {(d.name, reg): value for d in before for reg, value in d.registers}
        rows = []
        for dev in devices:
            rows.append(
                self._memo.row((dev.name, dev.base), partial(_device_row, dev.name, dev.base))
            )
            for reg, value in dev.registers:
                lit = old.get((dev.name, reg), value) != value
                key = (dev.name, reg, value, lit)
                rows.append(self._memo.row(key, partial(_register_row, reg, value, lit)))
        self._memo.done()
        self.set_rows(rows or [Text("no device registers (not a firmware recording)")])
