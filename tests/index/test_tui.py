"""The TUI's :last and :origin answer from the index (the same answers as gdb's monitor);
its query screen shows SQL results and goes to a row's icount."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from textual.widgets import Input, Static

from tests.conftest import SAMPLES
from tests.tui.conftest import settle, wait_for
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.session import open_session
from ttdbg.symbols import Symbols
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.query import QueryScreen


def test_last_goes_to_the_writer_and_origin_explains_it(tmp_path: Path) -> None:
    path = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", path)
    build_index(str(path), runner=run_here)
    scan = Timeline(open_recording(str(path)))
    scan.index = None
    scan.seek(scan.end)
    rec = scan.recording
    addr = Symbols(rec.program_image, rec.program.load_bias).by_name["counter"].addr
    expected = scan.last_write(addr, 4)
    assert expected is not None
    notes: list[str] = []

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(path)))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            app.notify = lambda message, **_kw: notes.append(str(message))  # type: ignore[method-assign]
            await pilot.press("colon", *f"goto {app.tl.end}", "enter")
            await settle(pilot, app)
            await pilot.press("colon", *"last counter 4", "enter")
            await settle(pilot, app)
            assert app.tl.position == expected.icount
            assert app.tl.answered_by_index
            await pilot.press("colon", *"origin counter", "enter")
            await wait_for(pilot, lambda: any("origin:" in n for n in notes))

    asyncio.run(scenario())
    (chain,) = [n for n in notes if "origin:" in n]
    assert chain.startswith(f"{addr:#x}:")
    assert "origin: computation:" in chain  # counter += doubled + round


def test_query_screen_lists_rows_and_enter_goes_to_one(tmp_path: Path) -> None:
    path = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", path)
    build_index(str(path), runner=run_here)
    sql = "SELECT icount, arg1 FROM calls_named WHERE callee = 'step_value' ORDER BY icount"

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(path)))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *f"query {sql}", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, QueryScreen))
            screen = app.screen
            assert isinstance(screen, QueryScreen)
            await wait_for(pilot, lambda: len(screen.rows) == 40)
            assert [r[1] for r in screen.rows] == list(range(40))
            await pilot.press("down", "down", "down", "enter")
            await settle(pilot, app)
            assert not isinstance(app.screen, QueryScreen)
            assert app.tl.position == screen.rows[3][0]
            # A canned question, and bad SQL stays on the screen as one line.
            await pilot.press("colon", *"query", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, QueryScreen))
            canned = app.screen
            assert isinstance(canned, QueryScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: bool(canned.rows))
            assert canned.columns[0] == "callee"
            sql_input = canned.query_one("#query-sql", Input)
            canned.set_focus(sql_input)
            sql_input.value = "SELEC 1"
            await pilot.press("enter")
            error = canned.query_one("#query-error", Static)
            await wait_for(pilot, lambda: "syntax error" in str(error.render()))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, QueryScreen))

    asyncio.run(scenario())
