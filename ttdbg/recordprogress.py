"""The recorder's progress on a terminal (rich), kept out of the way of the guest's own
terminal input and output."""

from __future__ import annotations

import os
import time

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

REFRESH = 0.1  # seconds between redraws


class RecordingProgress:
    """A transient progress line on stderr: instructions recorded and the time so far.

    The guest shares the terminal. Before it reads or writes there the line is cleared, so
    its text never runs into the line; the line comes back only once the guest's output
    ends a line (a prompt left without a newline is neither erased nor written over).
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("ttdbg: recording"),
            TextColumn("{task.completed:,} instructions"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            auto_refresh=False,  # drawn from the recorder's thread only, never concurrently
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.bar.add_task("record", total=None)
        self.shown = False
        self.may_show = True  # false while the guest has left the cursor mid-line
        self.drawn = time.monotonic()  # the first draw after REFRESH: short runs show none
        self.terminals = {fd for fd in (0, 1, 2) if os.isatty(fd)}

    def update(self, icount: int) -> None:
        """The recorder's progress callback (drawn at most every REFRESH seconds)."""
        now = time.monotonic()
        if now - self.drawn < REFRESH:
            return
        self.drawn = now
        self.bar.update(self.task, completed=icount)
        if not self.shown and self.may_show:
            self.bar.start()
            self.shown = True
        if self.shown:
            self.bar.refresh()

    def before(self, fd: int) -> None:
        if fd in self.terminals:
            self.hide()

    def after(self, fd: int, data: bytes) -> None:
        if fd in self.terminals and data:
            self.may_show = data.endswith(b"\n")

    def hide(self) -> None:
        """Clear the line (the cursor is left at its start)."""
        if self.shown:
            self.bar.stop()
            self.shown = False
