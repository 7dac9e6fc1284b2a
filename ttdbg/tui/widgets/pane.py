"""A focusable text pane with a row cursor that scrolls, the base of the list-like panes."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import MouseScrollDown, MouseScrollUp, Resize
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

CURSOR = Style(reverse=True)


class RowMemo:
    """Rows built for one update, kept for the next: a row whose inputs are unchanged is the
    same object again, so it is neither rebuilt nor compared nor repainted."""

    def __init__(self) -> None:
        self._old: dict[Hashable, Text] = {}
        self._new: dict[Hashable, Text] = {}

    def row(self, key: Hashable, build: Callable[[], Text]) -> Text:
        found = self._new.get(key) or self._old.get(key)
        if found is None:
            found = build()
        self._new[key] = found
        return found

    def done(self) -> None:
        """The update is over: keep only the rows it used."""
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
        self._strips: dict[int, Strip] = {}  # row index -> its line, without the cursor
        self._shown_cursor = -1  # the row drawn highlighted
        self._base: Style | None = None  # the pane's own style, under every row

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._strips.clear()

    def set_rows(self, rows: list[Text], cursor: int | None = None, top: int | None = None) -> None:
        """Show `rows` (from row `top`, if given, else where the cursor is in view); only
        the lines that differ from what is on screen are repainted."""
        old_rows, old_top = self.rows, self.top
        self.rows = rows
        if top is not None:
            self.top = top
        if cursor is not None:
            self.set_reactive(Pane.cursor, cursor)
        self.set_reactive(Pane.cursor, max(0, min(self.cursor, len(rows) - 1)))
        self._scroll_to_cursor()
        if self.top != old_top or len(rows) != len(old_rows):
            self._strips.clear()
            self.refresh()
            return
        # One refresh for every line that changed (each refresh call costs as much as the
        # drawing of a line).
        box = self.content_region
        dirty = []
        for y in range(max(1, box.height)):
            i = self.top + y
            if i < len(rows) and rows[i] is not old_rows[i] and rows[i] != old_rows[i]:
                self._strips.pop(i, None)
                dirty.append(Region(0, y, box.width, 1))
        shown = self.cursor if self.has_focus else -1
        if shown != self._shown_cursor:
            for i in (self._shown_cursor, shown):
                if 0 <= i - self.top < box.height:
                    dirty.append(Region(0, i - self.top, box.width, 1))
        if dirty:
            self.refresh(*dirty)

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
        self._strips.clear()
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
        width = self.content_region.width
        index = self.top + y
        base = self._base
        if base is None:
            base = self._base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None or strip.cell_length != width:
            row = self.rows[index]
            if row.cell_len > width:
                row = row.copy()
                row.truncate(width, overflow="ellipsis")
            strip = Strip(row.render(self.app.console)).crop_extend(0, width, None)
            strip = strip.apply_style(base)
            self._strips[index] = strip
        if index == self.cursor and self.has_focus:
            self._shown_cursor = index
            return strip.apply_style(CURSOR)
        if index == self._shown_cursor:
            self._shown_cursor = -1
        return strip

    def on_focus(self) -> None:
        self._refresh_cursor()

    def on_blur(self) -> None:
        self._refresh_cursor()
