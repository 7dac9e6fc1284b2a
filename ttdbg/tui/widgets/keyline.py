"""The bottom row: the key hints that fit, or a long operation's progress bar with its ETA."""

from __future__ import annotations

import time

from rich.progress_bar import ProgressBar
from rich.text import Text

from .oneline import OneLine

# Hints in order of importance: as many as fit.
KEY_HINTS = (
    "? help",
    "q quit",
    "i/I stepi",
    "s/S step",
    "l/L next",
    "o/O nexti",
    "c/C cont",
    "f/F finish",
    ": command",
    "g goto",
    "1-0 panes",
    "space break",
    "m/' marks",
    "u back",
)


def key_line(width: int) -> str:
    """The hints that fit `width`, kept in their order of importance."""
    shown: list[str] = []
    for hint in KEY_HINTS:
        if len("  ".join([*shown, hint])) + 1 <= width:
            shown.append(hint)
    order = {h: i for i, h in enumerate(KEY_HINTS[2:] + KEY_HINTS[:2])}
    return " " + "  ".join(sorted(shown, key=order.__getitem__))


def eta_text(seconds: float | None) -> str:
    """`ETA 0:01:05` (`ETA -:--:--` until a rate is known)."""
    if seconds is None:
        return "ETA -:--:--"
    whole = int(seconds + 0.999)
    return f"ETA {whole // 3600}:{whole // 60 % 60:02}:{whole % 60:02}"


class KeyLine(OneLine):
    """One row, repainted and never laid out again: the key hints, or while a long operation
    runs, its progress in their place (the row is always on screen, so the bar is seen, and
    showing it moves nothing else)."""

    DEFAULT_CSS = "KeyLine { height: 1; background: $boost; color: $text-muted; }"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress: tuple[int, int] | None = None  # (done, total) while an operation runs
        self._started = 0.0

    def show_progress(self, done: int, total: int) -> None:
        if self.progress is None:
            self._started = time.monotonic()
        self.progress = (done, max(1, total))
        self.changed()

    def hide_progress(self) -> None:
        if self.progress is not None:
            self.progress = None
            self.changed()

    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before any progress)."""
        if self.progress is None or self.progress[0] <= 0:
            return None
        done, total = self.progress
        return (time.monotonic() - self._started) * (total - done) / done

    def line(self, width: int) -> Text:
        """The row's content at `width`."""
        if self.progress is None:
            return Text(key_line(width), no_wrap=True)
        done, total = self.progress
        tail = f" {100 * done // total:3}%  {eta_text(self.eta())}  escape cancels "
        bar = ProgressBar(total=total, completed=done, width=max(1, width - len(tail) - 1))
        row = Text(" ", no_wrap=True)
        for segment in self.app.console.render(bar, self.app.console.options):
            row.append(segment.text, segment.style)
        row.append(tail)
        return row

    def visible_text(self) -> str:
        """The row as plain text."""
        return self.line(self.size.width).plain
