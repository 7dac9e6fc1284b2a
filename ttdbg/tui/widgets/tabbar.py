"""A one-row tab bar drawn as a single line: the names of the tabbed panes, the shown one lit."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.events import Click
from textual.message import Message

from .oneline import OneLine


@dataclass(frozen=True)
class Tab:
    """One tab: its id, and its name on a wide and on a narrow tab row."""

    id: str
    label: str
    short: str


class TabBar(OneLine):
    """The tab row over the tabbed panes. One widget drawing one strip (Textual's own tabs
    are a dozen widgets, each of which costs time on every update of the screen); a click on
    a name chooses that tab."""

    DEFAULT_CSS = """
    TabBar { height: 1; background: $panel; color: $text-muted; }
    TabBar > .tabbar--active { background: $accent; color: $text; text-style: bold; }
    """
    COMPONENT_CLASSES = {"tabbar--active"}

    class Chosen(Message):
        """A tab was clicked."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: list[Tab], active: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tabs = tabs
        self.active = active if any(t.id == active for t in tabs) else tabs[0].id
        self._spans: list[tuple[int, int, str]] = []  # (first column, end column, tab id)

    def cells(self, width: int) -> list[str]:
        """Each tab's cell: the long names padded if they all fit `width`, else the short ones,
        closer together if need be."""
        long = [f" {t.label} " for t in self.tabs]
        short = [f" {t.short} " for t in self.tabs]
        for cells in (long, short):
            if sum(map(len, cells)) + 1 <= width:
                return cells
        return [f" {t.short}" for t in self.tabs]

    def choose(self, tab: str) -> None:
        if tab != self.active:
            self.active = tab
            self.changed()

    def line(self, width: int) -> Text:
        lit = self.get_component_rich_style("tabbar--active")
        text = Text(" ", no_wrap=True)
        self._spans = []
        for tab, cell in zip(self.tabs, self.cells(width), strict=True):
            start = text.cell_len
            text.append(cell, style=lit if tab.id == self.active else None)
            self._spans.append((start, text.cell_len, tab.id))
        return text

    def on_click(self, event: Click) -> None:
        for start, end, tab in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(tab))
