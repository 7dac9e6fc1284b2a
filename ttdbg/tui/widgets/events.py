"""The events (syscalls and other inputs) around the position; enter jumps to one."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from ..messages import SeekRequest
from ..view import StateView
from .pane import Pane


class Events(Pane):
    BINDINGS = [Binding("enter", "jump", "jump to event")]

    def __init__(self, syscall_names: dict[int, str], id: str | None = None) -> None:
        super().__init__(title="events", id=id)
        self.names = syscall_names
        self.icounts: list[int] = []

    def show(self, view: StateView) -> None:
        rows = []
        self.icounts = []
        for ev in view.events_before:
            rows.append(Text(f"{ev.icount:>12,}  {ev.describe(self.names)}", style="dim"))
            self.icounts.append(ev.icount)
        here = len(rows)
        rows.append(Text(f"{view.icount:>12,}  ── you are here ──", style="bold green"))
        self.icounts.append(view.icount)
        for ev in view.events_after:
            rows.append(Text(f"{ev.icount:>12,}  {ev.describe(self.names)}"))
            self.icounts.append(ev.icount)
        self.set_rows(rows, here)

    def action_jump(self) -> None:
        if 0 <= self.cursor < len(self.icounts):
            self.post_message(SeekRequest(self.icounts[self.cursor]))
