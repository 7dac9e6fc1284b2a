"""Messages the panes send up to the app (attributes go down, messages go up)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from textual.message import Message


class SeekRequest(Message):
    """A pane asks to go to an icount (timeline click or drag, an event picked in a list)."""

    def __init__(self, icount: int, record: bool = True) -> None:
        super().__init__()
        self.icount = icount
        self.record = record


class EngineDone(Message):
    """An operation sent to the engine thread has finished (or was dropped)."""

    def __init__(self, future: Future[Any], record: bool) -> None:
        super().__init__()
        self.future = future
        self.record = record


class ProgressUpdate(Message):
    """A long engine operation's progress: icounts done and still to go, and where it is."""

    def __init__(self, done: int, to_go: int, icount: int) -> None:
        super().__init__()
        self.done = done
        self.to_go = to_go
        self.icount = icount


class TimelineChanged(Message):
    """Another front-end (gdb) changed the timeline."""


class GdbAttached(Message):
    """A gdb client attached to (True) or detached from (False) the TUI's gdb server."""

    def __init__(self, attached: bool) -> None:
        super().__init__()
        self.attached = attached


class InterruptLanes(Message):
    """A firmware recording's interrupt entries: (label, icounts) per source."""

    def __init__(self, lanes: list[tuple[str, list[int]]]) -> None:
        super().__init__()
        self.lanes = lanes
