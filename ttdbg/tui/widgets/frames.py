"""The backtrace (frames by CFI, selectable) and the selected frame's variables."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from ..view import StateView
from .pane import Pane


class FrameSelected(Message):
    """The user picked a frame in the backtrace."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level


class Backtrace(Pane):
    BINDINGS = [Binding("enter", "select", "select frame")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="backtrace", id=id)

    def show(self, view: StateView) -> None:
        if not view.backtrace:
            self.set_rows([Text("no debug info for this code", style="dim")])
            return
        rows = []
        for frame in view.backtrace:
            row = Text(frame.describe())
            if frame.level == view.frame_level:
                row.stylize("bold green")
            rows.append(row)
        self.set_rows(rows, view.frame_level)

    def action_select(self) -> None:
        self.post_message(FrameSelected(self.cursor))


class Locals(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="locals", id=id)

    def show(self, view: StateView) -> None:
        rows = []
        if view.backtrace:
            frame = view.backtrace[view.frame_level]
            self.set_title(f"locals of #{frame.level} {frame.function}")
        for name, value, is_arg in view.variables:
            row = Text(f"{name}", style="cyan" if is_arg else "bold")
            row.append(f" = {value}")
            rows.append(row)
        for expr, value in view.displays:
            rows.append(Text(f"display {expr} = {value}", style="magenta"))
        if not rows:
            rows.append(Text("no arguments or locals here", style="dim"))
        self.set_rows(rows)
