"""Source-level debugging in the TUI: gdb's words on the `:` line, backtrace and locals panes,
line steps in both directions, typed watchpoint values."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp


@pytest.fixture
def app(tmp_path: Path) -> TtdbgApp:
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    shutil.copytree(SAMPLES / "src", tmp_path / "src")
    return TtdbgApp(open_session(str(tmp_path / "walk.ttrec")))


def _messages(app: TtdbgApp) -> list[str]:
    return [n.message for n in app._notifications]


async def _command(pilot, app: TtdbgApp, line: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("colon", *line, "enter")
    await settle(pilot, app)


def test_breakpoints_frames_and_print(app: TtdbgApp) -> None:
    history, counter = (app.symbols.by_name[n].addr for n in ("history", "counter"))

    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await _command(pilot, app, "break walk.c:11")
            assert any("Breakpoint 1 at 0x" in m and "line 11" in m for m in _messages(app))
            await _command(pilot, app, "tbreak depth")
            await _command(pilot, app, "c")
            assert app.view is not None
            assert app.view.source is not None
            assert app.view.source.line == 11
            bt = app.view.backtrace
            assert [f.function for f in bt] == ["step_value", "main"]
            assert bt[0].args == ("x=x@entry=1", "round=round@entry=0")  # as gdb's bt
            assert ("doubled", "2", False) in app.view.variables
            await _command(pilot, app, "print counter")
            assert "$1 = 2" in _messages(app)
            await _command(pilot, app, "print history[0]")
            assert "$2 = 0" in _messages(app)  # line 11 stores it: not yet
            await _command(pilot, app, "print &history[1]")
            assert any(
                m.startswith("$3 = (int *) 0x") and "<history+4>" in m for m in _messages(app)
            )
            await _command(pilot, app, "print nothing")
            assert any('No symbol "nothing"' in m for m in _messages(app))
            await _command(pilot, app, "print/x counter")
            await _command(pilot, app, "p/t counter")
            assert _messages(app)[-2:] == ["$4 = 0x2", "$5 = 10"]
            await _command(pilot, app, "print/x history")
            assert _messages(app)[-1] == "$6 = {0x0 <repeats 16 times>}"
            await _command(pilot, app, "x/2xw history")
            assert _messages(app)[-1] == f"{history:#x} <history>:\t0x00000000\t0x00000000"
            await _command(pilot, app, "x/2dh counter")
            assert _messages(app)[-1] == f"{counter:#x} <counter>:\t2\t0"
            await _command(pilot, app, "up")
            assert app.view.frame_level == 1
            assert any(name == "round" for name, _v, _a in app.view.variables)
            await _command(pilot, app, "down")
            assert app.view.frame_level == 0
            await _command(pilot, app, "down")
            assert any("cannot go down" in m for m in _messages(app))
            await _command(pilot, app, "display doubled")
            assert ("doubled", "2") in app.view.displays
            await _command(pilot, app, "delete 1")
            await _command(pilot, app, "c")  # on to the temporary breakpoint in depth
            assert app.view.backtrace[0].function == "depth"
            assert not app.tl.breakpoints  # both gone: one deleted, one temporary
            await _command(pilot, app, "frobnicate")
            assert any("unknown command 'frobnicate'" in m for m in _messages(app))

    asyncio.run(scenario())


def test_watch_an_expression_sized_by_its_type(app: TtdbgApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await _command(pilot, app, "watch history[1]")
            (wp,) = app.tl.watchpoints
            assert wp.length == 4  # an int, not 8 bytes
            await _command(pilot, app, "c")
            assert any(
                "write watchpoint history[1]: old = 0, new = 9" in m for m in _messages(app)
            ), _messages(app)

    asyncio.run(scenario())


def test_line_steps_both_ways_and_history_records_jumps_only(app: TtdbgApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await _command(pilot, app, "break main")
            await _command(pilot, app, "c")
            assert app.view is not None
            lines = []
            for key in ("s", "s", "s", "l", "l", "L", "S"):
                await pilot.press(key)
                await settle(pilot, app)
                assert app.view.source is not None
                lines.append((app.view.source.line, app.view.backtrace[0].function))
            # into step_value from line 24, over its lines, back out again
            assert lines[2] == (9, "step_value")
            assert lines[3] == (10, "step_value")
            assert lines[4] == (11, "step_value")
            assert lines[5] == (10, "step_value")
            assert lines[6] == (9, "step_value")
            # only the continue was a jump: one step back in history goes to where it began
            before_continue = app.session.go_back(app.tl.position)
            assert before_continue == 0

    asyncio.run(scenario())
