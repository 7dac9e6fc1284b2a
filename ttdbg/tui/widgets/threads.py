"""The recording's threads at the position: tid, name, state, which one runs; the colours
match the timeline's thread lane."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane

# One colour per thread, by its index in the recording's thread list (the lane uses them too).
THREAD_COLOURS = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "white")


def thread_colour(index: int) -> str:
    return THREAD_COLOURS[index % len(THREAD_COLOURS)]


class Threads(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="threads", id=id)

    def show(self, view: StateView) -> None:
        rows = []
        cursor = 0
        for i, thread in enumerate(view.threads):
            row = Text("▶ " if thread.current else "  ", style="bold green")
            row.append("█ ", style=thread_colour(i))
            row.append(f"{thread.tid:<8} {thread.state:<9} {thread.name}")
            if thread.state in ("exited", "unborn"):
                row.stylize("dim")
            if thread.current:
                cursor = i
            rows.append(row)
        self.set_rows(rows or [Text("no threads", style="dim")], cursor)
