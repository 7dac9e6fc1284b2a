"""The timeline across the full width: position, snapshots, events, hits, bookmarks, ticks."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.events import MouseDown, MouseMove, MouseUp
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..messages import SeekRequest
from .threads import thread_colour

DENSITY = " ▁▂▃▄▅▆▇█"
DIM = Style(dim=True)
SNAPSHOT = ("│", Style(color="blue", dim=True))
HIT = ("B", Style(color="red", bold=True))
BOOKMARK = Style(color="yellow", bold=True)
POSITION = Style(color="green", bold=True)
POSITION_DENSITY = Style(color="green", reverse=True)


@lru_cache(maxsize=64)
def _coloured(colour: str) -> Style:
    return Style(color=colour)


def _runs(cells: list[tuple[str, Style]]) -> list[Segment]:
    """One segment for each run of cells in the same style."""
    segments: list[Segment] = []
    text: list[str] = []
    style: Style | None = None
    for glyph, cell_style in cells:
        if cell_style is not style and text:
            segments.append(Segment("".join(text), style))
            text = []
        style = cell_style
        text.append(glyph)
    if text:
        segments.append(Segment("".join(text), style))
    return segments


class Timeline(Widget, can_focus=True):
    """Three rows: markers, event density, tick labels. Click or drag to seek."""

    DEFAULT_CSS = "Timeline { height: 3; }"
    position: reactive[int] = reactive(0)
    zoom: reactive[int] = reactive(0)  # each step halves the visible span around the cursor

    def __init__(self, end: int, snapshots: list[int], events: list[int], id: str | None = None):
        super().__init__(id=id)
        self.end = max(1, end)
        self.snapshots = snapshots
        self.events = events
        self.hits: set[int] = set()
        self.bookmarks: dict[str, int] = {}
        self._dragging = False
        self._rows: dict[int, tuple[object, Strip]] = {}  # y -> (what it showed, its strip)
        # Threads: tid -> its index in the recording's list (its colour), and the lane's source.
        self.thread_index: dict[int, int] = {}
        self.lane_of: Callable[[int, int, int], list[int | None]] | None = None

    def span(self) -> tuple[int, int]:
        """The icount range shown, zoomed around the cursor."""
        width = max(1, self.end >> self.zoom)
        lo = max(0, min(self.position - width // 2, self.end - width))
        return lo, lo + width

    def icount_at(self, x: int) -> int:
        lo, hi = self.span()
        cols = max(1, self.size.width - 1)
        return max(0, min(self.end, lo + (hi - lo) * x // cols))

    def events_between(self, lo: int, hi: int) -> int:
        """How many events lie in [lo, hi) (the events are sorted by icount)."""
        return bisect.bisect_left(self.events, hi) - bisect.bisect_left(self.events, lo)

    def column_counts(self, width: int) -> list[int]:
        """Events per column, with `column`'s bucketing, by bisection instead of a pass over
        every event on every redraw."""
        lo, hi = self.span()
        cols = width - 1
        if cols <= 0 or hi == lo:
            return [0] * width
        # The first icount of column c is the smallest i with (i - lo) * cols // span >= c.
        starts = [lo - (-c * (hi - lo) // cols) for c in range(width)] + [hi + 1]
        edges = [bisect.bisect_left(self.events, s) for s in starts]
        return [edges[c + 1] - edges[c] for c in range(width)]

    def column(self, icount: int) -> int | None:
        lo, hi = self.span()
        if not lo <= icount <= hi or hi == lo:
            return None
        return (icount - lo) * (self.size.width - 1) // (hi - lo)

    def render_line(self, y: int) -> Strip:
        """Row `y`, drawn again only when what it shows changed (a seek repaints the widget,
        and a row is up to a few hundred cells)."""
        width = self.size.width
        if width <= 0:
            return Strip([])
        key = (width, self._drawn(), len(self.snapshots), self.lane_of is not None)
        cached = self._rows.get(y)
        if cached is not None and cached[0] == key:
            return cached[1]
        strip = Strip(_runs(self._cells(y, width)), width)
        self._rows[y] = (key, strip)
        return strip

    def _cells(self, y: int, width: int) -> list[tuple[str, Style]]:
        """The glyph and style of every column of row `y`."""
        if y == 0:
            cells = [(" ", DIM)] * width
            for marks, mark in ((self.snapshots, SNAPSHOT), (self.hits, HIT)):
                for col in self._columns(marks):
                    cells[col] = mark
            for letter, icount in self.bookmarks.items():
                at = self.column(icount)
                if at is not None:
                    cells[at] = (letter, BOOKMARK)
            here = self.column(self.position)
            if here is not None:
                cells[here] = ("▼", POSITION)
            return cells
        if y == 1:
            counts = self.column_counts(width)
            top = max(counts) or 1
            pos = self.column(self.position)
            lane = self._lane(width)
            return [
                (
                    DENSITY[min(8, (8 * n + top - 1) // top)] if n else "·",
                    POSITION_DENSITY if i == pos else _coloured(lane[i] if lane else "cyan"),
                )
                for i, n in enumerate(counts)
            ]
        lo, hi = self.span()
        ticks = [" "] * width
        for k in range(5):
            x = k * (width - 1) // 4
            label = f"{lo + (hi - lo) * k // 4:,}"
            start = min(max(0, x - len(label) // 2), max(0, width - len(label)))
            ticks[start : start + len(label)] = list(label)
        return [(c, DIM) for c in ticks[:width]]

    def _columns(self, marks: Iterable[int]) -> list[int]:
        """The columns of the icounts in `marks` that lie in the span."""
        lo, hi = self.span()
        if hi == lo:
            return []
        cols = self.size.width - 1
        return [(i - lo) * cols // (hi - lo) for i in marks if lo <= i <= hi]

    def _lane(self, width: int) -> list[str] | None:
        """The thread lane: each column in the colour of the thread that runs most of it
        (None for a single thread: the row keeps its one colour)."""
        if self.lane_of is None or len(self.thread_index) < 2:
            return None
        lo, hi = self.span()
        return [
            thread_colour(self.thread_index.get(tid, 0)) if tid is not None else "bright_black"
            for tid in self.lane_of(lo, hi + 1, width)
        ]

    def show(self, position: int, hits: set[int], bookmarks: dict[str, int]) -> None:
        """Move the cursor, mark the hits and bookmarks; repainted only if a mark moved."""
        before = self._drawn()
        self.hits = set(hits)
        self.bookmarks = dict(bookmarks)
        self.set_reactive(Timeline.position, position)
        if self._drawn() != before:
            self.refresh()

    def _drawn(self) -> tuple[object, ...]:
        """What the three rows depend on besides the size: a step inside one column
        changes nothing on screen."""
        return (
            self.column(self.position),
            self.span(),
            len(self.hits),
            sorted(self.bookmarks.items()),
        )

    def watch_position(self) -> None:
        self.refresh()

    def watch_zoom(self) -> None:
        self.refresh()

    def on_mouse_down(self, event: MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self.post_message(SeekRequest(self.icount_at(event.x)))

    def on_mouse_move(self, event: MouseMove) -> None:
        if self._dragging:
            self.position = self.icount_at(event.x)
            self.post_message(SeekRequest(self.position, record=False))
            return
        lo, hi = self.icount_at(event.x), self.icount_at(event.x + 1)
        events = self.events_between(lo, hi)
        self.tooltip = f"icount {lo:,}..{hi:,}: {events} syscalls (click to go there)"

    def on_mouse_up(self, event: MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()
