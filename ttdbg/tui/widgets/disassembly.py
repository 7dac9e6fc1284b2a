"""Disassembly around the pc: symbol+offset, breakpoint marks, the recent trail dimmed."""

from __future__ import annotations

from collections.abc import Set

from rich.text import Text

from ..view import StateView
from .pane import Pane


class Disassembly(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="disassembly", id=id)
        self.addrs: list[int] = []

    def show(self, view: StateView, breakpoints: Set[int], trail: Set[int]) -> None:
        rows = []
        cursor = 0
        self.addrs = []
        for i, line in enumerate(view.disasm):
            mark = "●" if line.addr in breakpoints else " "
            arrow = "▶" if line.is_pc else " "
            row = Text()
            row.append(mark, style="bold red")
            row.append(arrow, style="bold green")
            row.append(f"{line.addr:>8x} ", style="dim" if not line.is_pc else "bold")
            row.append(f"{line.label:<15.15} ", style="blue")
            row.append(line.text, style="bold" if line.is_pc else "")
            if line.is_pc:
                cursor = i
                row.stylize("on grey23")
            elif line.addr in trail:
                row.stylize("dim")
            rows.append(row)
            self.addrs.append(line.addr)
        self.set_rows(rows, cursor)

    @property
    def selected(self) -> int | None:
        return self.addrs[self.cursor] if 0 <= self.cursor < len(self.addrs) else None
