"""The stack from the stack pointer up, words annotated with the symbols they point into."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane


class Stack(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="stack", id=id)

    def show(self, view: StateView) -> None:
        rows = []
        for addr, word, label in view.stack:
            row = Text(f"{addr:012x} ", style="dim")
            row.append("?" * 16 if word is None else f"{word:016x}")
            if label:
                row.append(f"  {label}", style="blue")
            rows.append(row)
        self.set_rows(rows)
