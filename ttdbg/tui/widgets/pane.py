"""A focusable text pane with a row cursor, the base of the list-like panes."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget


class Pane(Widget, can_focus=True):
    """Shows rows of rich text; up/down (or j/k) move a highlighted cursor row.

    It renders its rows directly and only asks for a repaint, never a new layout: the
    panes are redrawn on every step, and a layout pass costs more than the drawing.
    """

    DEFAULT_CSS = "Pane { text-wrap: nowrap; text-overflow: ellipsis; }"
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "up", show=False),
        Binding("down,j", "cursor(1)", "down", show=False),
    ]
    cursor: reactive[int] = reactive(0, layout=False)

    def __init__(self, *, title: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.rows: list[Text] = []
        self._text = Text()

    def set_rows(self, rows: list[Text], cursor: int | None = None) -> None:
        self.rows = rows
        if cursor is not None:
            self.set_reactive(Pane.cursor, cursor)
        self.set_reactive(Pane.cursor, max(0, min(self.cursor, len(rows) - 1)))
        self._redraw()

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))

    def watch_cursor(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, row in enumerate(self.rows):
            line = row
            if i == self.cursor and self.has_focus:
                line = row.copy()
                line.stylize("reverse")
            out.append_text(line)
            if i + 1 < len(self.rows):
                out.append("\n")
        self._text = out
        self.refresh()

    def render(self) -> Text:
        return self._text

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()
