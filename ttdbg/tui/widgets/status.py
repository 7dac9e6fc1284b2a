"""The status line: recording, architecture, position, interval, gdb, end of the program."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .oneline import OneLine

# (priority, text, style): at a narrow width the parts with the highest numbers go first, so
# the position and the stop reason are always shown whole.
Part = tuple[int, str, str]


def fit_parts(parts: list[Part], width: int) -> Text:
    """The parts in order, leaving out the least important ones until they fit `width`."""
    kept = list(parts)
    while kept and sum(len(t) for _p, t, _s in kept) > width:
        drop = max(range(len(kept)), key=lambda i: (kept[i][0], i))
        if kept[drop][0] == 0:
            break  # only the essential parts are left: let the end be cut
        del kept[drop]
    text = Text(no_wrap=True, overflow="ellipsis")
    for _p, t, style in kept:
        text.append(t, style=style)
    return text


class StatusBar(OneLine):
    """One line; repainted, never re-laid-out, on every move."""

    _parts: list[Part] = []

    def line(self, width: int) -> Text:
        return fit_parts(self._parts, width)

    def render(self) -> Text:
        """The line as text (what is drawn)."""
        return self.line(self.size.width)

    def show_parts(self, parts: list[Part]) -> None:
        if parts != self._parts:
            self._parts = parts
            self.changed()

    def show(self, view: StateView, name: str, arch: str, gdb: str, note: str) -> None:
        pct = 100.0 * view.icount / view.end if view.end else 100.0
        self.show_parts(
            [
                (3, f" {name}", "bold"),
                (4, f" {arch}", "dim"),
                (0, f" icount {view.icount:,} / {view.end:,}", "bold cyan"),
                (2, f" ({pct:.1f}%)", "bold cyan"),
                (0, f"  {note}" if note else "", "yellow"),
                (1, f"  {gdb}" if gdb else "", "bold magenta"),
                (2, f"  pc {view.pc:#x}", ""),
                (5, f"  snap {view.interval[0]:,}..{view.interval[1]:,}", "dim"),
            ]
        )

    def show_progress(self, icount: int, end: int, what: str) -> None:
        """The moving icount during a long operation."""
        self.show_parts(
            [(0, f" icount {icount:,} / {end:,}", "bold cyan"), (0, f"  {what}", "yellow")]
        )
