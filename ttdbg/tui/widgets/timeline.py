"""The timeline across the full width: position, snapshots, events, hits, bookmarks, ticks,
and for firmware one lane per interrupt source."""

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


LANE_COLOURS = ("magenta", "yellow", "bright_red", "bright_blue", "bright_green", "cyan")


class Timeline(Widget, can_focus=True):
    """Three rows: markers, event density, tick labels; for firmware, one row per interrupt
    source between the last two (`show_lanes`). Click or drag to seek."""

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
        self.event_word = "syscalls"  # what the density row counts (the tooltip says it)
        self.interrupt_lanes: list[tuple[str, list[int]]] = []  # (label, sorted icounts)

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

    def column_counts(self, width: int, marks: list[int] | None = None) -> list[int]:
        """Events (or `marks`) per column, with `column`'s bucketing, by bisection instead of
        a pass over every event on every redraw."""
        marks = self.events if marks is None else marks
        lo, hi = self.span()
        cols = width - 1
        if cols <= 0 or hi == lo:
            return [0] * width
        # The first icount of column c is the smallest i with (i - lo) * cols // span >= c.
        starts = [lo - (-c * (hi - lo) // cols) for c in range(width)] + [hi + 1]
        edges = [bisect.bisect_left(marks, s) for s in starts]
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
        key = (
            width,
            self._drawn(),
            len(self.snapshots),
            self.lane_of is not None,
            len(self.interrupt_lanes),
        )
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
        if 0 <= y - 2 < len(self.interrupt_lanes):
            return self._interrupt_lane(y - 2, width)
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

    def show_lanes(self, lanes: list[tuple[str, list[int]]]) -> None:
        """One row per interrupt source: its label and the icounts it was entered at."""
        self.interrupt_lanes = lanes
        self.styles.height = 3 + len(lanes)
        self.refresh()

    def _interrupt_lane(self, index: int, width: int) -> list[tuple[str, Style]]:
        """Entries per column of one interrupt source, its label where no mark is."""
        label, icounts = self.interrupt_lanes[index]
        colour = _coloured(LANE_COLOURS[index % len(LANE_COLOURS)])
        counts = self.column_counts(width, icounts)
        top = max(counts) or 1
        cells = [(DENSITY[min(8, 1 + (7 * n) // top)] if n else " ", colour) for n in counts]
        start, length = _widest_gap(counts)
        short = label.partition(":")[0] if ":" in label else label.partition(" (")[0]
        for text in (f" {label} ", f" {short} "):
            if len(text) <= length:
                at = start + (length - len(text)) // 2 if start else 0
                italic = colour + Style(italic=True)
                cells[at : at + len(text)] = [(char, italic) for char in text]
                break
        pos = self.column(self.position)
        if pos is not None:
            cells[pos] = (cells[pos][0], POSITION_DENSITY)
        return cells

    def _lane_entry(self, y: int, x: int) -> tuple[str, int, int | None]:
        """On interrupt lane row `y`, column `x`: the lane's label, its entries there, and
        the first of them (None: none)."""
        label, icounts = self.interrupt_lanes[y - 2]
        lo, hi = self.icount_at(x), self.icount_at(x + 1)
        first, last = bisect.bisect_left(icounts, lo), bisect.bisect_left(icounts, max(hi, lo + 1))
        return label, last - first, icounts[first] if first < last else None

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
        target = self.icount_at(event.x)
        if 0 <= event.y - 2 < len(self.interrupt_lanes):  # an entry in the column, if any
            target = self._lane_entry(event.y, event.x)[2] or target
        self.post_message(SeekRequest(target))

    def on_mouse_move(self, event: MouseMove) -> None:
        if self._dragging:
            self.position = self.icount_at(event.x)
            self.post_message(SeekRequest(self.position, record=False))
            return
        lo, hi = self.icount_at(event.x), self.icount_at(event.x + 1)
        if 0 <= event.y - 2 < len(self.interrupt_lanes):
            label, count, _first = self._lane_entry(event.y, event.x)
            self.tooltip = (
                f"icount {lo:,}..{hi:,}: {label} entered {count} times (click: the first)"
            )
            return
        events = self.events_between(lo, hi)
        self.tooltip = f"icount {lo:,}..{hi:,}: {events} {self.event_word} (click to go there)"

    def on_mouse_up(self, event: MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()


def _widest_gap(counts: list[int]) -> tuple[int, int]:
    """(first column, length) of the longest run of columns without a mark."""
    best = (0, 0)
    start = 0
    for i, n in enumerate([*counts, 1]):
        if n:
            if i - start > best[1]:
                best = (start, i - start)
            start = i + 1
    return best
