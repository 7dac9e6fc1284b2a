"""Registers, with those the last instruction changed highlighted."""

from __future__ import annotations

from functools import partial

from rich.text import Text

from ..view import StateView
from .pane import Pane, RowMemo


def _row(name: str, value: int, lit: bool, digits: int, width: int) -> Text:
    row = Text()
    row.append(f"{name:>9} ", style="dim")
    row.append(f"{value:0{digits}x}"[-width:], style="bold yellow" if lit else "")
    return row


class Registers(Pane):
    def __init__(self, shown: tuple[str, ...], sizes: dict[str, int], id: str | None = None):
        super().__init__(title="registers", id=id)
        self.shown = shown or tuple(n for n, size in sizes.items() if size <= 8)
        self.sizes = sizes
        self.names: list[str] = []
        self._memo = RowMemo()

    def show(self, view: StateView, changed: frozenset[str] | None = None) -> None:
        """Highlight `changed` (by default, what the last instruction changed)."""
        changed = view.changed if changed is None else changed
        rows = []
        self.names = [n for n in self.shown if n in view.registers]
        width = 32 if any(self.sizes.get(n, 8) > 8 for n in self.names) else 16
        for name in self.names:
            value = view.registers[name]
            digits = 2 * self.sizes.get(name, 8)
            lit = name in changed
            key = (name, value, lit, digits, width)
            rows.append(self._memo.row(key, partial(_row, name, value, lit, digits, width)))
        self._memo.done()
        self.set_rows(rows)

    @property
    def selected(self) -> str | None:
        return self.names[self.cursor] if 0 <= self.cursor < len(self.names) else None
