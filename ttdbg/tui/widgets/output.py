"""What the guest wrote before the position: stdout and stderr, or a firmware's serial console."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane


class Output(Pane):
    def __init__(self, title: str = "program output", id: str | None = None) -> None:
        super().__init__(title=title, id=id)
        self._shown: tuple[str, str, bool] | None = None

    def show(self, view: StateView) -> None:
        shown = (view.output, view.exit_text, view.output_known)
        if shown == self._shown:
            return  # a step that wrote nothing: the rows stay
        self._shown = shown
        if not view.output_known:
            empty = "(reading the serial output: one replay of the recording)"
        else:
            empty = "(nothing yet)"
        lines = view.output.splitlines()[-200:] or [empty]
        rows = [Text(line) for line in lines]
        if view.exit_text:
            rows.append(Text(view.exit_text, style="bold"))
        self.set_rows(rows, len(rows) - 1)
