"""A focusable text pane with a row cursor that scrolls, the base of the list-like panes."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import MouseScrollDown, MouseScrollUp, Resize
from textual.reactive import reactive
from textual.widget import Widget


class Pane(Widget, can_focus=True):
    """Shows rows of rich text; up/down (or j/k, page keys, the wheel) move a highlighted
    cursor row, and the rows scroll to keep it in the box.

    It renders the visible rows directly and only asks for a repaint, never a new layout:
    the panes are redrawn on every step, and a layout pass costs more than the drawing. Its
    height therefore comes from CSS (a fraction of its container), never from its content.
    """

    DEFAULT_CSS = "Pane { text-wrap: nowrap; text-overflow: ellipsis; height: 1fr; }"
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
        self._text = Text()

    def set_rows(self, rows: list[Text], cursor: int | None = None) -> None:
        self.rows = rows
        if cursor is not None:
            self.set_reactive(Pane.cursor, cursor)
        self.set_reactive(Pane.cursor, max(0, min(self.cursor, len(rows) - 1)))
        self._redraw()

    @property
    def visible_rows(self) -> int:
        """How many rows fit in the box (its content height)."""
        return max(1, self.content_region.height)

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
        self._redraw()

    def on_resize(self, _event: Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Fit the rows to a new size (panes whose rows depend on the width rebuild them)."""
        self._redraw()

    def _scroll_to_cursor(self) -> None:
        """Move the window just enough to show the cursor row, with a row of context."""
        height = self.visible_rows
        context = 1 if height > 4 else 0
        if self.cursor - context < self.top:
            self.top = max(0, self.cursor - context)
        elif self.cursor + context >= self.top + height:
            self.top = self.cursor + context - height + 1
        self.top = max(0, min(self.top, len(self.rows) - height))

    def _redraw(self) -> None:
        self._scroll_to_cursor()
        out = Text(no_wrap=True, overflow="ellipsis")
        shown = self.rows[self.top : self.top + self.visible_rows]
        for i, row in enumerate(shown, start=self.top):
            line = row
            if i == self.cursor and self.has_focus:
                line = row.copy()
                line.stylize("reverse")
            out.append_text(line)
            if i + 1 < self.top + len(shown):
                out.append("\n")
        self._text = out
        self.refresh()

    def render(self) -> Text:
        return self._text

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()
