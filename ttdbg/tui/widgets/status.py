"""The status line: recording, architecture, position, interval, gdb, end of the program."""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.strip import Strip
from textual.widget import Widget

from ..view import StateView

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


class StatusBar(Widget):
    """One line; repainted, never re-laid-out, on every move. It draws with the line API
    from a strip built once per change (a widget's `render` goes through Textual's content
    layout on every paint, which costs more than the rest of a step's drawing)."""

    _parts: list[Part] = []
    _strip: Strip | None = None

    def render(self) -> Text:
        """The line as text (what `render_line` draws)."""
        return fit_parts(self._parts, self.size.width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strip = self._strip
        if strip is None or strip.cell_length != width:
            text = self.render()
            text.truncate(width, overflow="ellipsis")
            strip = Strip(text.render(self.app.console)).crop_extend(0, width, None)
            strip = self._strip = strip.apply_style(self.rich_style)
        return strip if y == 0 else Strip.blank(width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None

    def on_resize(self, _event: Resize) -> None:
        self._strip = None
        self.refresh()

    def show_parts(self, parts: list[Part]) -> None:
        if parts != self._parts:
            self._parts = parts
            self._strip = None
            self.refresh()

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
