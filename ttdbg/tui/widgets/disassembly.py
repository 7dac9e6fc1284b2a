"""Disassembly around the pc: symbol+offset, breakpoint marks, the recent trail dimmed."""

from __future__ import annotations

from collections.abc import Set
from functools import partial

from rich.text import Text
from textual.message import Message

from ..view import DisasmLine, StateView
from .pane import Pane, RowMemo


def _row(line: DisasmLine, breakpoint: bool, dim: bool, width: int) -> Text:
    """One instruction: breakpoint and pc marks, address, symbol column `width` wide."""
    row = Text()
    row.append("●" if breakpoint else " ", style="bold red")
    row.append("▶" if line.is_pc else " ", style="bold green")
    row.append(f"{line.addr:>8x} ", style="dim" if not line.is_pc else "bold")
    row.append(f"{line.label:<{width}.{width}} ", style="blue")
    # gdb's spelling separates AArch64's and RISC-V's operands with a tab, as x/i does.
    row.append(line.text.expandtabs(8), style="bold" if line.is_pc else "")
    if line.is_pc:
        row.stylize("on grey23")
    elif dim:
        row.stylize("dim")
    return row


class Disassembly(Pane):
    class Resized(Message):
        """The pane's height changed: the view should hold as many instructions."""

        def __init__(self, rows: int) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="disassembly", id=id)
        self.addrs: list[int] = []
        self._rows = 0
        self._memo = RowMemo()

    def relayout(self) -> None:
        if self.content_region.height != self._rows:
            self._rows = self.content_region.height
            self.post_message(self.Resized(self._rows))
        super().relayout()

    def show(self, view: StateView, breakpoints: Set[int], trail: Set[int]) -> None:
        rows = []
        cursor = 0
        self.addrs = []
        # The symbol column is as wide as its longest label, up to a third of the pane.
        cap = max(12, self.content_region.width // 3)
        width = min(cap, max((len(line.label) for line in view.disasm), default=0))
        for i, line in enumerate(view.disasm):
            mark = line.addr in breakpoints
            dim = not line.is_pc and line.addr in trail
            rows.append(
                self._memo.row((line, mark, dim, width), partial(_row, line, mark, dim, width))
            )
            if line.is_pc:
                cursor = i
            self.addrs.append(line.addr)
        self._memo.done()
        self.set_rows(rows, cursor)

    @property
    def selected(self) -> int | None:
        return self.addrs[self.cursor] if 0 <= self.cursor < len(self.addrs) else None
