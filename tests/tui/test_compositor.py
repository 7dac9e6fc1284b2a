"""The line compositor's partial updates leave the terminal showing what a full redraw would."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.segment import ControlType, Segment
from rich.style import Style
from textual._compositor import CompositorUpdate
from textual.geometry import Region
from textual.widget import Widget

from tests.conftest import SAMPLES
from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.compositor import LineCompositor, row_runs
from ttdbg.tui.widgets.oneline import OneLine
from ttdbg.tui.widgets.pane import Pane
from ttdbg.tui.widgets.rowstrip import row_strip

Cell = tuple[str, Style | None]


class Terminal:
    """A grid of cells that takes the app's updates as a terminal would: cursor moves and
    text (styles kept, so a lost highlight counts as a difference)."""

    def __init__(self, width: int, height: int) -> None:
        self.cells: list[list[Cell]] = [[(" ", None)] * width for _ in range(height)]

    def write(self, segments: Any) -> None:
        x = y = 0
        for segment in segments:
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]
                continue
            for char in segment.text:
                if char == "\n":
                    x, y = 0, y + 1
                    continue
                if 0 <= y < len(self.cells) and 0 <= x < len(self.cells[y]):
                    self.cells[y][x] = (char, segment.style)
                x += cell_len(char)

    def text(self) -> str:
        return "\n".join("".join(c for c, _s in row) for row in self.cells)


def _full_redraw(app: TtdbgApp, width: int, height: int) -> Terminal:
    """The whole screen drawn from scratch."""
    full = Terminal(width, height)
    strips = app.screen._compositor.render_strips()
    full.write(s for y, strip in enumerate(strips) for s in [_move(0, y), *strip])
    return full


def _move(x: int, y: int) -> Segment:
    return Segment("", None, [(ControlType.CURSOR_MOVE_TO, x, y)])


def _panes_draw_as_the_style_cache(app: TtdbgApp, keys: list[str]) -> None:
    """Each pane on screen joins its lines from edges (Pane.render_lines); they must be
    what Textual's own style cache composes, line for line."""
    panes = [w for w in app.screen.query(Pane) if w.display and w.outer_size.height > 2]
    assert len(panes) >= 4
    assert any(pane.has_focus for pane in panes), keys  # one draws a cursor row
    for pane in panes:
        assert pane._current_edges() is not None, pane  # the joined lines are in use
        box = Region(0, 0, pane.outer_size.width, pane.outer_size.height)
        joined = [list(line) for line in pane.render_lines(box)]
        # Drawing the same lines again finds every one in the caches, nothing is added: the
        # focused pane's cursor row too (Textual's Strip.apply_style keeps its highlighted
        # strip, the same object each time).
        kept = (len(pane._joined), len(pane._drawn))
        pane.render_lines(box)
        assert (len(pane._joined), len(pane._drawn)) == kept, (keys, pane)
        pane._styles_cache.clear()
        composed = [list(line) for line in Widget.render_lines(pane, box)]
        assert joined == composed, (keys, pane)


def _pane_lines_are_their_rows(app: TtdbgApp, keys: list[str]) -> None:
    """Each content line a pane draws (from its cache of lines by row object) is its row
    drawn afresh: a line kept for a row that changed fails here, where the comparisons with
    a full redraw and the style cache, which read the same cache, do not."""
    for pane in (w for w in app.screen.query(Pane) if w.display):
        width, base, focused = pane.content_region.width, pane.rich_style, pane.has_focus
        for y in range(pane.visible_rows):
            index = pane.top + y
            if index >= len(pane.rows) or (focused and index == pane.cursor):
                continue
            fresh = row_strip(pane.rows[index], width, base, app.console)
            assert list(pane._line(y, width, focused)) == list(fresh), (keys, pane, index)


def _one_lines_draw_as_the_style_cache(app: TtdbgApp, keys: list[str]) -> None:
    """The one-line widgets (status, tabs, keys) return their own strip, filtered; it must
    be what the style cache composes."""
    lines = [w for w in app.screen.query(OneLine) if w.display]
    assert len(lines) >= 3
    for widget in lines:
        box = Region(0, 0, widget.outer_size.width, 1)
        own = [list(line) for line in widget.render_lines(box)]
        assert widget._direct is not None, widget
        assert widget._direct[1], widget  # its own strip is what it draws
        widget._styles_cache.clear()
        composed = [list(line) for line in Widget.render_lines(widget, box)]
        assert own == composed, (keys, widget)


def test_row_runs() -> None:
    assert list(row_runs([])) == []
    assert list(row_runs([0, 1, 2, 5, 7, 8])) == [(0, 3), (5, 1), (7, 2)]


def test_partial_updates_show_what_a_full_redraw_shows(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    shutil.copytree(SAMPLES / "src", tmp_path / "src")
    width, height = 120, 36
    app = TtdbgApp(open_session(str(tmp_path / "walk.ttrec")), fill_checkpoints=False)
    terminal = Terminal(width, height)
    partial = [0]

    def display(_screen: Any, update: Any) -> None:
        if isinstance(update, CompositorUpdate):
            partial[0] += type(update).__name__ == "ChopsUpdate"
            terminal.write(update.__rich_console__(app.console, app.console.options))

    app._display = display  # type: ignore[method-assign]

    async def scenario() -> None:
        async with app.run_test(size=(width, height)) as pilot:
            await settle(pilot, app)
            assert isinstance(app.screen._compositor, LineCompositor)
            # Steps both ways, a breakpoint and continues, the command line, another tab,
            # the cursor moved in a pane: after each, the terminal equals a fresh drawing.
            for keys in (
                ["i"] * 3,
                ["I"],
                ["i"] * 14,  # past the trail's length: rows come back from the panes' caches
                ["I"] * 9,
                ["colon", *"b *step_value", "enter"],
                ["c"],
                ["c"],
                ["s"],
                ["C"],
                ["g", *"5000", "enter"],
                ["6"],
                ["down", "down"],
                ["4"],
                ["1", "down", "down", "up"],
            ):
                await pilot.press(*keys)
                await settle(pilot, app)
                app.screen._on_timer_update()  # anything still to draw reaches the terminal
                expected = _full_redraw(app, width, height)
                assert terminal.text() == expected.text(), keys
                assert terminal.cells == expected.cells, keys
                _panes_draw_as_the_style_cache(app, keys)
                _one_lines_draw_as_the_style_cache(app, keys)
                _pane_lines_are_their_rows(app, keys)

    asyncio.run(scenario())
    assert partial[0] > 10  # the moves were drawn as partial updates
