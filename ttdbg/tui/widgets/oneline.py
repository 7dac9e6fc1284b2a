"""A widget of one row, drawn from a strip built once per change of its content or width."""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.strip import Strip
from textual.widget import Widget


class OneLine(Widget):
    """One row of text, repainted and never laid out again when it changes. It draws with
    the line API from a cached strip (a widget's `render` goes through Textual's content
    layout on every paint, which costs more than the rest of a step's drawing)."""

    _strip: Strip | None = None

    def line(self, width: int) -> Text:
        """The row's text at `width` (cut to fit when drawn)."""
        raise NotImplementedError

    def changed(self) -> None:
        """The content changed: draw it again."""
        self._strip = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y > 0:
            return Strip.blank(width, self.rich_style)
        strip = self._strip
        if strip is None or strip.cell_length != width:
            text = self.line(width)
            text.truncate(width, overflow="ellipsis")
            strip = Strip(text.render(self.app.console)).crop_extend(0, width, None)
            strip = self._strip = strip.apply_style(self.rich_style)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None

    def on_resize(self, _event: Resize) -> None:
        self.changed()
