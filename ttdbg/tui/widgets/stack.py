"""The stack from the stack pointer up, words annotated with the symbols they point into."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane

WIDE = 56  # columns from which full addresses and zero-padded words fit beside a symbol


class Stack(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="stack", id=id)
        self._view: StateView | None = None
        self._wide = True

    def show(self, view: StateView) -> None:
        self._view = view
        self._wide = self.content_region.width >= WIDE or not self.content_region.width
        rows = []
        sp = view.stack[0][0] if view.stack else 0
        for addr, word, label in view.stack:
            if self._wide:
                row = Text(f"{addr:012x} ", style="dim")
                row.append("?" * 16 if word is None else f"{word:016x}")
            else:  # offsets from the stack pointer, words without padding
                row = Text(f"sp+{addr - sp:<4x}", style="dim")
                row.append("?" if word is None else f"{word:#x}")
            if label:
                row.append(f"  {label}", style="blue")
            rows.append(row)
        self.set_rows(rows)

    def relayout(self) -> None:
        if self._view is not None and (self.content_region.width >= WIDE) != self._wide:
            self.show(self._view)
        else:
            super().relayout()
