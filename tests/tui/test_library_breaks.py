"""`b FUNC` in the TUI finds a function in any library the recording maps, loaded at the
position or not, and continue / reverse-continue stop at it wherever the library is mapped at
each moment: a library dlclosed and loaded again elsewhere, with another library's code at its
old address (RELOADS), against a brute-force replay and gdb on the native program."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import require_tool, run_ttdbg
from tests.integration.dynprogs import build_reloads
from tests.integration.reloads import target_calls
from tests.tui.conftest import settle
from tests.tui.test_dynamic_tui import pane_text
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp


@dataclass(frozen=True)
class Reloads:
    rec: Path
    hits: list[tuple[int, int]]  # (icount, pc) of each call of target_fn, in order
    args: list[int]  # its argument at each, as gdb on the native program shows it


def native_gdb_stops(argv: list[str]) -> tuple[list[int], list[int]]:
    """gdb on the native program, `break target_fn` while no library defines it (pending),
    then run and continue to the end: (where each stop is past target_fn's start, its v)."""
    probe = ["-ex", "print/d $pc - (long)&target_fn", "-ex", "print v", "-ex", "continue"]
    proc = subprocess.run(
        [require_tool("gdb"), "-nx", "-batch", "-ex", "set pagination off",
         "-ex", "set breakpoint pending on", "-ex", "break target_fn", "-ex", "run",
         *probe, *probe, "--args", *argv],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "Breakpoint 1 (target_fn) pending." in out, out
    assert out.count("Breakpoint 1, target_fn") == 2, out
    assert "exited normally" in out, out
    values = [int(v) for v in re.findall(r"^\$\d+ = (-?\d+)$", out, flags=re.M)]
    return values[0::2], values[1::2]


@pytest.fixture(scope="module")
def reloads(tmp_path_factory: pytest.TempPathFactory) -> Reloads:
    tmp = tmp_path_factory.mktemp("reloads")
    argv = build_reloads(tmp)
    offsets, args = native_gdb_stops(argv)
    assert len(set(offsets)) == 1, offsets
    assert args == [1, 3], args
    rec = tmp / "reloads.ttrec"
    proc = run_ttdbg(["record", "-o", str(rec), "--", *argv], timeout=300)
    assert proc.returncode == 0, proc.stderr
    hits, _reused = target_calls(rec, offsets[0])
    return Reloads(rec, hits, args)


def notes(app: TtdbgApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def expect_stop(pilot: Pilot[None], app: TtdbgApp, key: str, icount: int, pc: int) -> None:
    await pilot.press(key)
    await settle(pilot, app)
    assert app.view is not None
    assert (app.view.icount, app.view.pc) == (icount, pc), (key, app.view.icount, app.last_stop)


def test_break_in_a_library_not_loaded_yet_stops_at_each_load(reloads: Reloads) -> None:
    (icount1, pc1), (icount2, pc2) = reloads.hits

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(reloads.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            assert app.position == 0  # before the loader has mapped even libc
            await pilot.press("colon", *"b no_such_function", "enter")
            await settle(pilot, app)
            assert notes(app)[-1] == (
                'Function "no_such_function" not defined (in the program or any library it maps).'
            )
            await pilot.press("colon", *"b target_fn", "enter")
            await settle(pilot, app)
            said = notes(app)[-1]
            assert said.startswith("Breakpoint 1 at target_fn in "), said
            assert "libtarget.so (not mapped here;" in said, said
            await pilot.press("colon", *"info breakpoints", "enter")
            await settle(pilot, app)
            assert re.fullmatch(r"1  break  target_fn in \S+/libtarget.so \(not mapped here\)",
                                notes(app)[-1]), notes(app)  # fmt: skip
            marks = await pane_text(pilot, app, "marks")
            assert "● break target_fn in libtarget.so (not mapped here)" in marks, marks

            await expect_stop(pilot, app, "c", icount1, pc1)
            assert app.view is not None
            assert app.view.registers["rdi"] & 0xFFFFFFFF == reloads.args[0]
            assert app._code_rows()[0].endswith(f"libtarget.so at {pc1:#x}")
            assert f"libtarget.so at {pc1:#x}" in await pane_text(pilot, app, "marks")
            assert pc1 in app._marked(app.view)  # the disassembly's mark
            # Not in other_fn, which runs at this address once libtarget is unloaded.
            await expect_stop(pilot, app, "c", icount2, pc2)
            assert app.view.registers["rdi"] & 0xFFFFFFFF == reloads.args[1]
            await pilot.press("colon", *"info breakpoints", "enter")
            await settle(pilot, app)
            assert notes(app)[-1].endswith(f"libtarget.so at {pc2:#x}"), notes(app)
            await pilot.press("c")
            await settle(pilot, app)
            assert app.view.icount == app.tl.end  # no stop in other_fn after the last call
            assert app._code_rows()[0].endswith("libtarget.so (not mapped here)")

            await expect_stop(pilot, app, "C", icount2, pc2)
            await expect_stop(pilot, app, "C", icount1, pc1)
            await pilot.press("C")
            await settle(pilot, app)
            assert app.view.icount == 0

    asyncio.run(scenario())


def test_tbreak_and_delete_of_a_library_breakpoint(reloads: Reloads) -> None:
    (icount1, pc1), (icount2, pc2) = reloads.hits

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(reloads.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *"tbreak target_fn", "enter")
            await settle(pilot, app)
            await expect_stop(pilot, app, "c", icount1, pc1)
            assert not app.tl.code_breakpoints  # a tbreak goes once hit
            await pilot.press("c")
            await settle(pilot, app)
            assert app.position == app.tl.end
            await pilot.press("colon", *"b target_fn", "enter")
            await settle(pilot, app)
            await expect_stop(pilot, app, "C", icount2, pc2)
            number = max(app.breakpoint_numbers)
            await pilot.press("colon", *f"delete {number}", "enter")
            await settle(pilot, app)
            assert not app.tl.code_breakpoints
            await pilot.press("C")
            await settle(pilot, app)
            assert app.position == 0

    asyncio.run(scenario())


def test_space_in_library_code_breaks_wherever_the_library_is(reloads: Reloads) -> None:
    """A breakpoint toggled on a disassembly line of library code follows the library too."""
    (icount1, pc1), (icount2, pc2) = reloads.hits

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(reloads.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *f"goto {icount1}", "enter")
            await settle(pilot, app)
            app.action_toggle_breakpoint()  # the selected line is the pc's
            await settle(pilot, app)
            assert not app.tl.breakpoints
            assert len(app.tl.code_breakpoints) == 1
            assert app._code_rows()[0].startswith("target_fn+"), app._code_rows()
            await pilot.press("colon", *"goto 0", "enter")
            await settle(pilot, app)
            await expect_stop(pilot, app, "c", icount1, pc1)
            await expect_stop(pilot, app, "c", icount2, pc2)
            app.action_toggle_breakpoint()  # off again, at its second place
            await settle(pilot, app)
            assert not app.tl.code_breakpoints

    asyncio.run(scenario())


def test_library_breakpoints_are_kept_in_the_session(reloads: Reloads, tmp_path: Path) -> None:
    rec = tmp_path / "copy.ttrec"
    shutil.copy(reloads.rec, rec)

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(rec)))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *"b target_fn", "enter")
            await settle(pilot, app)
            app.save_session()

    asyncio.run(scenario())
    session = open_session(str(rec))
    assert session.problem_line() is None
    tl = session.timeline
    assert len(tl.code_breakpoints) == 1
    stop = tl.continue_()
    assert (stop.icount, tl.pc) == reloads.hits[0]
