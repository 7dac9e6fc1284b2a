"""What the guest wrote to stdout and stderr before the position."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane


class Output(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="program output", id=id)

    def show(self, view: StateView) -> None:
        lines = view.output.splitlines()[-200:] or ["(nothing yet)"]
        rows = [Text(line) for line in lines]
        if view.exit_text:
            rows.append(Text(view.exit_text, style="bold"))
        self.set_rows(rows, len(rows) - 1)
