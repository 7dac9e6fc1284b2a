"""A widget of one row, drawn from a strip built once per change of its content or width."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.filter import LineFilter
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..repaint import repaint
from .rowstrip import row_strip


class OneLine(Widget):
    """One row of text, repainted and never laid out again when it changes. It draws with
    the line API from a cached strip (a widget's `render` goes through Textual's content
    layout on every paint, which costs more than the rest of a step's drawing)."""

    _strip: Strip | None = None
    _base: Style | None = None  # the widget's own style, under the text
    # (size, line filters) -> whether the style cache's line is the row's own strip with
    # the filters applied (no border, padding or tint), checked once per size and style.
    _direct: tuple[object, bool] | None = None
    # the row's strip, the filters, and the strip with them applied
    _drawn: tuple[Strip, tuple[LineFilter, ...], Strip] | None = None

    def line(self, width: int) -> Text:
        """The row's text at `width` (cut to fit when drawn)."""
        raise NotImplementedError

    def changed(self) -> None:
        """The content changed: draw it again."""
        self._strip = None
        repaint(self)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The row itself where the style cache would draw the same: a changed row went
        through its composition of borders, padding and background (a third of a step's
        drawing for one line of text)."""
        if crop.y != 0 or crop.height != 1:
            return super().render_lines(crop)
        filters = tuple(self.get_line_filters())
        key = (self.outer_size, filters)
        if self._direct is None or self._direct[0] != key:
            whole = Region(0, 0, self.outer_size.width, 1)
            same = self.size == self.outer_size and list(super().render_lines(whole)[0]) == list(
                self._filtered(filters)
            )
            self._direct = (key, same)
        if not self._direct[1]:
            return super().render_lines(crop)
        return [self._filtered(filters).crop(crop.x, crop.right)]

    def _filtered(self, filters: tuple[LineFilter, ...]) -> Strip:
        row = self.render_line(0)
        drawn = self._drawn
        if drawn is not None and drawn[0] is row and drawn[1] == filters:
            return drawn[2]
        line = row
        for line_filter in filters:
            line = line.apply_filter(line_filter, self.background_colors[1])
        self._drawn = (row, filters, line)
        return line

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y > 0:
            return Strip.blank(width, self.rich_style)
        strip = self._strip
        if strip is None or strip.cell_length != width:
            # The widget's style is looked up once per style, not once per change.
            base = self._base
            if base is None:
                base = self._base = self.rich_style
            strip = self._strip = row_strip(self.line(width), width, base, self.app.console)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None
        self._direct = None
        self._drawn = None
        self._base = None

    def on_resize(self, _event: Resize) -> None:
        self.changed()
