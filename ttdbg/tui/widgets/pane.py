"""A focusable text pane with a row cursor that scrolls, the base of the list-like panes."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.events import MouseScrollDown, MouseScrollUp, Resize
from textual.filter import LineFilter
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..repaint import repaint
from .rowstrip import row_strip

CURSOR = Style(reverse=True)
KEPT_LINES = 1024  # lines of rows drawn earlier, kept in case the row comes back
# first and last content row, left and right edge, line filters and the background they use
_Edges = tuple[int, int, Strip, Strip, tuple[LineFilter, ...], Color]


class RowMemo:
    """Rows built for earlier updates, kept for the next ones: a row whose inputs were seen
    lately is the same object again, so it is neither rebuilt nor drawn again (the pane keeps
    the lines of the rows it drew). Stepping through a loop brings the same rows back, lit as
    the pc and dimmed as the trail, every few steps."""

    def __init__(self, keep: int = 512) -> None:
        self._old: dict[Hashable, Text] = {}
        self._new: dict[Hashable, Text] = {}
        self._keep = keep  # rows in a generation; two generations are kept

    def row(self, key: Hashable, build: Callable[[], Text]) -> Text:
        found = self._new.get(key)
        if found is None:
            found = self._old.get(key)
            if found is None:
                found = build()
            self._new[key] = found
        return found

    def done(self) -> None:
        """The update is over: start a new generation once this one is full (the oldest
        rows go)."""
        if len(self._new) >= self._keep:
            self._old, self._new = self._new, {}


class Pane(Widget, can_focus=True):
    """Shows rows of rich text; up/down (or j/k, page keys, the wheel) move a highlighted
    cursor row, and the rows scroll to keep it in the box.

    It draws line by line (Textual's line API) from rows rendered once and kept, and repaints
    only the lines whose row changed: the panes are updated on every step, where most of
    their rows stay as they were, and neither a layout pass nor re-rendering the whole pane
    is needed for that. Its height therefore comes from CSS (a fraction of its container),
    never from its content.
    """

    DEFAULT_CSS = "Pane { height: 1fr; }"
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "up", show=False),
        Binding("down,j", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "cursor(-1000000000)", "first row", show=False),
        Binding("end", "cursor(1000000000)", "last row", show=False),
    ]
    cursor: reactive[int] = reactive(0, layout=False)

    def __init__(self, *, title: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.rows: list[Text] = []
        self.top = 0  # the first row shown
        # id(row) -> (the row, its line without the cursor): a row shown again (the memo
        # hands back the same object, set_rows keeps an equal one) is not drawn again
        self._drawn: dict[int, tuple[Text, Strip]] = {}
        self._drawn_base: Style | None = None  # the style they were drawn over
        self._blank: Strip | None = None  # the line under the last row
        self._shown_cursor = -1  # the row drawn highlighted
        self._base: Style | None = None  # the pane's own style, under every row
        # (size, focus, filters) -> the pieces of a content line around the row, and the
        # lines joined from them: id(row's line) -> (that line, the joined line)
        self._edges: tuple[object, _Edges | None] | None = None
        self._joined: dict[int, tuple[Strip, Strip]] = {}

    def notify_style_update(self) -> None:
        # A focus change lands here too (the border's colour): the rows are drawn again only
        # if the pane's own style changed (render_line compares it).
        super().notify_style_update()
        self._base = None
        self._edges = None

    def render_lines(self, crop: Region) -> list[Strip]:
        """The pane's lines in `crop`. Textual's style cache composes a line again whenever
        it changed, making about five new strips (a strip costs more to make than the row it
        holds); a content line here is a left edge, the row, a right edge, so a changed row
        is joined to edges taken once from a line the style cache drew, and checked
        against it. The border rows come from the style cache."""
        edges = self._current_edges()
        if edges is None or crop.column_span != (0, self.outer_size.width):
            return super().render_lines(crop)
        first, last, left, right, filters, background = edges
        top, bottom = max(crop.y, first), min(crop.bottom, last)
        if top >= bottom:
            return super().render_lines(crop)
        lines = (
            super().render_lines(Region(0, crop.y, crop.width, top - crop.y))
            if top > crop.y
            else []
        )
        left_segments, right_segments = list(left), list(right)
        width = self.outer_size.width
        joined = self._joined
        content_width = width - left.cell_length - right.cell_length
        focused = self.has_focus
        for y in range(top, bottom):
            row = self._line(y - first, content_width, focused)
            known = joined.get(id(row))
            if known is not None and known[0] is row:
                lines.append(known[1])
                continue
            segments: list[Segment] = list(row)
            for line_filter in filters:
                segments = line_filter.apply(segments, background)
            line = Strip([*left_segments, *segments, *right_segments], width)
            if len(joined) >= KEPT_LINES:
                joined.clear()
            joined[id(row)] = (row, line)
            lines.append(line)
        if crop.bottom > bottom:
            lines += super().render_lines(Region(0, bottom, crop.width, crop.bottom - bottom))
        return lines

    def _current_edges(self) -> _Edges | None:
        """The border pieces left and right of a content line at the current size and focus,
        or None where joining them would not give the style cache's line."""
        key = (self.outer_size, self.has_focus, tuple(self.get_line_filters()))
        if self._edges is not None and self._edges[0] == key:
            return self._edges[1]
        edges = self._edges_from_style_cache()
        self._edges = (key, edges)
        self._joined.clear()
        return edges

    def _edges_from_style_cache(self) -> _Edges | None:
        width, height = self.outer_size
        gutter = self.styles.gutter
        first, last = gutter.top, height - gutter.bottom
        content_width = self.content_region.width
        if (
            last <= first
            or content_width <= 0
            or gutter.left + content_width + gutter.right != width
        ):
            return None
        drawn = super().render_lines(Region(0, first, width, 1))[0]
        left, middle, right = drawn.divide([gutter.left, gutter.left + content_width, width])
        filters = tuple(self.get_line_filters())
        background = self.background_colors[1]
        line = self.render_line(0)
        for line_filter in filters:
            line = line.apply_filter(line_filter, background)
        if list(line) != list(middle):
            return None  # a style the join does not reproduce (padding, tint, opacity...)
        return first, last, left, right, filters, background

    def set_rows(self, rows: list[Text], cursor: int | None = None, top: int | None = None) -> None:
        """Show `rows` (from row `top`, if given, else where the cursor is in view); only
        the lines that differ from what is on screen are repainted."""
        old_rows, old_top = self.rows, self.top
        self.rows = rows = list(rows)  # equal rows on screen are swapped for the drawn ones
        if top is not None:
            self.top = top
        if cursor is not None:
            self.set_reactive(Pane.cursor, cursor)
        self.set_reactive(Pane.cursor, max(0, min(self.cursor, len(rows) - 1)))
        self._scroll_to_cursor()
        if self.top != old_top or len(rows) != len(old_rows):
            repaint(self)
            return
        # One refresh for every line that changed (each refresh call costs as much as the
        # drawing of a line).
        box = self.content_region
        dirty = []
        for y in range(max(1, box.height)):
            i = self.top + y
            if i >= len(rows) or rows[i] is old_rows[i]:
                continue
            if rows[i] == old_rows[i]:
                rows[i] = old_rows[i]  # its line is drawn already
            else:
                dirty.append(Region(0, y, box.width, 1))
        shown = self.cursor if self.has_focus else -1
        if shown != self._shown_cursor:
            for i in (self._shown_cursor, shown):
                if 0 <= i - self.top < box.height:
                    dirty.append(Region(0, i - self.top, box.width, 1))
        if dirty:
            repaint(self, *dirty)

    def set_title(self, title: str) -> None:
        """Change the border title (setting one, even the same, repaints the whole pane)."""
        if title != self.border_title:
            self.border_title = title

    @property
    def visible_rows(self) -> int:
        """How many rows fit in the box (its content height)."""
        return max(1, self.content_region.height)

    def visible_text(self) -> str:
        """The rows in the box, as plain text."""
        return "\n".join(r.plain for r in self.rows[self.top : self.top + self.visible_rows])

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.visible_rows - 1))

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        event.stop()
        self.action_cursor(3)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        event.stop()
        self.action_cursor(-3)

    def watch_cursor(self) -> None:
        top = self.top
        self._scroll_to_cursor()
        if self.top != top:
            self.refresh()
        else:
            self._refresh_cursor()

    def on_resize(self, _event: Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Fit the rows to a new size (panes whose rows depend on the width rebuild them)."""
        self._scroll_to_cursor()
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        """Move the window just enough to show the cursor row, with a row of context."""
        height = self.visible_rows
        context = 1 if height > 4 else 0
        if self.cursor - context < self.top:
            self.top = max(0, self.cursor - context)
        elif self.cursor + context >= self.top + height:
            self.top = self.cursor + context - height + 1
        self.top = max(0, min(self.top, len(self.rows) - height))

    def _refresh_row(self, index: int) -> None:
        y = index - self.top
        if 0 <= y < self.visible_rows:
            self.refresh(Region(0, y, self.content_region.width, 1))

    def _refresh_cursor(self) -> None:
        """Repaint the rows whose highlight changes."""
        shown = self.cursor if self.has_focus else -1
        if shown != self._shown_cursor:
            self._refresh_row(self._shown_cursor)
            self._refresh_row(shown)

    def render_line(self, y: int) -> Strip:
        return self._line(y, self.content_region.width, self.has_focus)

    def _line(self, y: int, width: int, focused: bool) -> Strip:
        """Content line `y` at `width` (the pane's region is looked up once per call of
        render_lines, not once a line)."""
        index = self.top + y
        base = self._base
        if base is None:
            base = self._base = self.rich_style
            if base != self._drawn_base:
                self._drawn.clear()
                self._drawn_base, self._blank = base, None
        if index >= len(self.rows):
            blank = self._blank
            if blank is None or blank.cell_length != width:
                blank = self._blank = Strip.blank(width, base)
            return blank
        row = self.rows[index]
        drawn = self._drawn
        known = drawn.get(id(row))
        if known is not None and known[0] is row and known[1].cell_length == width:
            strip = known[1]
        else:
            strip = row_strip(row, width, base, self.app.console)
            if len(drawn) >= KEPT_LINES:
                drawn.clear()
            drawn[id(row)] = (row, strip)
        if index == self.cursor and focused:
            self._shown_cursor = index
            return strip.apply_style(CURSOR)  # the same strip each time (Textual keeps it)
        if index == self._shown_cursor:
            self._shown_cursor = -1
        return strip

    def on_focus(self) -> None:
        self._refresh_cursor()

    def on_blur(self) -> None:
        self._refresh_cursor()
