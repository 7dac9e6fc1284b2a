"""Pilot tests of the TUI on real sample recordings."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, SAMPLES, require_tool, stop_packet
from tests.tui.conftest import settle, wait_for
from ttdbg.backend.cancel import CancelToken, Progress
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import Interrupted, Stop
from ttdbg.backend.timeline import Timeline
from ttdbg.session import open_session
from ttdbg.symbols import Symbols
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.disassembly import Disassembly
from ttdbg.tui.widgets.keyline import KeyLine
from ttdbg.tui.widgets.registers import Registers

WALK = Symbols((BIN / "walk").read_bytes())


@pytest.fixture
def walk_copy(tmp_path: Path) -> Path:
    """The walk recording in a scratch directory, so sessions are written there."""
    dest = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", dest)
    (tmp_path / "src").mkdir()
    shutil.copy(SAMPLES / "src" / "walk.c", tmp_path / "src" / "walk.c")
    return dest


def make_app(path: Path, **kw: object) -> TtdbgApp:
    return TtdbgApp(open_session(str(path)), **kw)  # type: ignore[arg-type]


def test_stepping_both_ways_updates_registers_and_disassembly(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            assert app.view is not None
            first_pc = app.view.pc
            await pilot.press("i", "i", "i")
            await settle(pilot, app)
            assert app.tl.position == 3
            assert app.view.icount == 3
            assert app.view.pc != first_pc
            assert "rip" in app.view.changed
            disasm = app.query_one(Disassembly)
            assert disasm.addrs[disasm.cursor] == app.view.pc
            assert f"{app.view.pc:016x}" in app.query_one(Registers).visible_text()
            await pilot.press("I")
            await settle(pilot, app)
            assert app.tl.position == 2

    asyncio.run(scenario())


def test_goto_bookmarks_and_history(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("g", *"1000", "enter")
            await settle(pilot, app)
            assert app.tl.position == 1000
            await pilot.press("m", "a")
            await pilot.press("colon", *"50%", "enter")
            await settle(pilot, app)
            assert app.tl.position == app.tl.end // 2
            await pilot.press("apostrophe", "a")
            await settle(pilot, app)
            assert app.tl.position == 1000
            await pilot.press("u")
            await settle(pilot, app)
            assert app.tl.position == app.tl.end // 2
            await pilot.press("ctrl+r")
            await settle(pilot, app)
            assert app.tl.position == 1000

    asyncio.run(scenario())


def test_breakpoint_continue_and_reverse_continue(walk_copy: Path) -> None:
    oracle = Timeline(open_recording(str(walk_copy)))
    step_value = WALK.by_name["step_value"].addr
    oracle.add_breakpoint(step_value)
    hits = [oracle.continue_().icount for _ in range(3)]

    async def scenario() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("colon", *"b *step_value", "enter")
            await pilot.press("c", "c", "c")
            await settle(pilot, app)
            assert app.tl.position == hits[2]
            assert app.view is not None
            assert app.view.pc == step_value
            await pilot.press("C")
            await settle(pilot, app)
            assert app.tl.position == hits[1]
            # space on the pc line removes the breakpoint again
            await pilot.press("space")
            assert step_value not in app.tl.breakpoints

    asyncio.run(scenario())


def test_a_long_operation_shows_progress_and_escape_cancels_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        session = open_session(str(SAMPLES / "compute.ttrec"))
        session.path = "/dev/null"  # never save over the shipped sample
        app = TtdbgApp(session, progress_after=0.0)
        # The real search runs, but its first progress report holds the engine thread until
        # the test has seen escape cancel it: a fast machine cannot finish the search before
        # the key arrives. The report comes after the first slice of the first backward pass,
        # which starts at the last snapshot (far past fs_base's change at the very start), so
        # the hit cannot have been seen yet; the next slice boundary sees the cancel.
        search = app.tl.find_register_change
        tokens: list[CancelToken] = []
        released = threading.Event()

        def held_search(
            name: str, forward: bool, progress: Progress | None, cancel: CancelToken | None
        ) -> Stop:
            assert progress is not None
            assert cancel is not None

            def report(done: int, to_go: int) -> None:
                progress(done, to_go)
                released.wait(timeout=60)  # a failing test must not hold the engine for ever

            tokens.append(cancel)
            return search(name, forward, report, cancel)

        monkeypatch.setattr(app.tl, "find_register_change", held_search)
        try:
            async with app.run_test(size=(160, 48)) as pilot:
                await pilot.press("g", *"100%", "enter")
                await settle(pilot, app)
                # The previous change of fs_base lies at the very start: a search back across
                # 10^8 instructions, every one of them looked at.
                app.query_one(Registers).focus()
                await pilot.press(*["down"] * 18)
                assert app.query_one(Registers).selected == "fs_base"
                await pilot.press("number_sign")
                keys = app.query_one(KeyLine)
                await wait_for(pilot, lambda: keys.progress is not None)
                await pilot.pause()
                # In the key line's place on the bottom row (always on screen), with its ETA,
                # and the header moves.
                assert keys.region.bottom == app.screen.region.bottom
                shown = keys.visible_text()
                for part in ("escape cancels", "ETA ", "%"):
                    assert part in shown, shown
                assert "━" in shown, shown  # rich's bar
                await wait_for(
                    pilot, lambda: "escape cancels" in str(app.query_one("#status").render())
                )
                assert len(tokens) == 1
                assert not tokens[0].cancelled
                await pilot.press("escape")
                await wait_for(pilot, lambda: tokens[0].cancelled)
                released.set()
                await settle(pilot, app)
                assert isinstance(app.last_stop, Interrupted), app.last_stop
                assert keys.progress is None
                assert "? help" in keys.visible_text()  # the key hints are back
                # (The position on screen: while idle the engine fills in checkpoints, and
                # the timeline belongs to its thread.)
                stopped = app.position
                assert 0 < stopped < app.tl.end
                await pilot.press("i")  # still responsive
                await settle(pilot, app)
                assert app.position == stopped + 1
        finally:
            released.set()

    asyncio.run(scenario())


def test_session_is_saved_and_restored(walk_copy: Path) -> None:
    async def first() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("colon", *"b *step_value", "enter")
            await pilot.press("c")
            await settle(pilot, app)
            await pilot.press("m", "q")
            await pilot.press("g", *"2000", "enter")
            await settle(pilot, app)
            await pilot.press("colon", *"watch &counter", "enter")
            await pilot.press("q")

    asyncio.run(first())
    saved = walk_copy.with_name("walk.ttrec.ttsession")
    assert saved.exists()
    session = open_session(str(walk_copy))
    assert session.timeline.position == 2000
    assert WALK.by_name["step_value"].addr in session.timeline.breakpoints
    assert "q" in session.bookmarks
    assert session.back  # the history came back too


def test_gdb_attached_to_the_tui_moves_its_position(walk_copy: Path) -> None:
    gdb = require_tool("gdb")

    async def scenario() -> None:
        app = make_app(walk_copy, gdb_port=0)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            port = app.gdb_server.address[1]
            proc = subprocess.Popen(
                [gdb, "-nx", "-batch", "-ex", f"file {BIN / 'walk'}",
                 "-ex", f"target remote 127.0.0.1:{port}", "-ex", "break step_value",
                 "-ex", "continue", "-ex", "continue", "-ex", "reverse-continue",
                 "-ex", "monitor info replay"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            await wait_for(pilot, lambda: proc.poll() is not None, timeout=60)
            out = proc.stdout.read() if proc.stdout else ""
            # gdb has finished; the screen catches up with where it left the timeline. (The
            # TUI peeks at the previous instruction while building a view; gdb never sees it.)
            await wait_for(
                pilot,
                lambda: (
                    app.view is not None
                    and app.view.icount == app.tl.position
                    and app.view.pc == app.tl.pc
                ),
            )
            assert f"icount: {app.tl.position} /" in out, (out, app.tl.position)
            assert app.view is not None
            assert app.view.pc == WALK.by_name["step_value"].addr, (out, app.view.icount)
            # gdb detached at its end; the TUI shows it and may move time again.
            await wait_for(pilot, lambda: not app.gdb_attached)

    asyncio.run(scenario())


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_other_architectures_in_the_tui(arch: str, tmp_path: Path) -> None:
    dest = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / arch / "walk.ttrec", dest)
    symbols = Symbols((BIN / arch / "walk").read_bytes())
    step_value = symbols.by_name["step_value"].addr

    async def scenario() -> None:
        app = make_app(dest)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("colon", *"b *step_value", "enter")
            await pilot.press("c")
            await settle(pilot, app)
            assert app.view is not None
            assert app.view.pc == step_value
            assert app.view.disasm[0].label.startswith("step_value")
            shown = "\n".join(map(str, app.query_one(Registers).rows))  # it scrolls
            assert ("x30" if arch == "aarch64" else "ra") in shown
            await pilot.press("f")  # finish: back in main, after the call
            await settle(pilot, app)
            assert symbols.describe(app.view.pc).startswith("main+")
            after_call = app.view.pc
            # Reverse step over, with the breakpoint in the callee gone (it would stop there,
            # as in gdb): back onto the call of step_value.
            await pilot.press("colon", *"delete", "enter")
            await pilot.press("O")
            await settle(pilot, app)
            assert symbols.describe(app.view.pc).startswith("main+")
            assert app.view.pc < after_call

    asyncio.run(scenario())


def test_memory_pane_follows_a_register_or_stays_on_an_address(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("colon", *"b *step_value", "enter", "c")
            await settle(pilot, app)
            await pilot.press("colon", *"x $rdi", "enter")
            await settle(pilot, app)
            assert app.view is not None
            assert app.view.memory_addr == app.view.registers["rdi"]
            await pilot.press("c")
            await settle(pilot, app)
            assert app.view.memory_addr == app.view.registers["rdi"]  # followed it
            counter = WALK.by_name["counter"].addr
            await pilot.press("colon", *"x &counter", "enter")
            await settle(pilot, app)
            assert app.view.memory_addr == counter
            await pilot.press("C")
            await settle(pilot, app)
            assert app.view.memory_addr == counter  # a fixed address stays put
            assert app.view.memory is not None

    asyncio.run(scenario())


def test_highlight_changed_since_the_previous_view(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = make_app(walk_copy)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("g", *"3000", "enter")
            await settle(pilot, app)
            assert app.view is not None
            before = dict(app.view.registers)
            await pilot.press("g", *"9000", "enter")
            await settle(pilot, app)
            last_insn = app.view.changed
            since_view = {n for n, v in app.view.registers.items() if before[n] != v}
            assert app._changed_for(app.view) == last_insn
            await pilot.press("v")
            assert app._changed_for(app.view) == since_view
            assert since_view != set(last_insn)
            # Memory too, at a fixed address, between two views.
            counter = WALK.by_name["counter"].addr
            await pilot.press("colon", *f"x {counter:#x}", "enter")
            await settle(pilot, app)
            mem_before = app.view.memory
            await pilot.press("g", *"14000", "enter")
            await settle(pilot, app)
            assert mem_before is not None
            assert app.view.memory is not None
            diff = {
                i
                for i, (a, b) in enumerate(zip(mem_before, app.view.memory, strict=True))
                if a != b
            }
            assert diff  # counter changed between icount 9000 and 14000
            assert app._memory_changed_for(app.view) == diff

    asyncio.run(scenario())


def test_the_engine_thread_survives_a_failing_operation_and_a_poisoning_gdb(
    walk_copy: Path,
) -> None:
    from tests.rsp_client import attach, without_registers

    async def scenario() -> None:
        app = make_app(walk_copy, gdb_port=0)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            port = app.gdb_server.address[1]

            def poison() -> None:
                with attach(port) as client:
                    assert client.ask(b"Z0,-1,1").startswith(b"E")
                    assert client.ask(b"Z2,0,ffffffffffffffff").startswith(b"E")
                    assert without_registers(client.ask(b"c")) == (
                        stop_packet(SAMPLES / "walk.ttrec") + b"replaylog:end;"
                    )
                    assert client.ask(b"D") == b"OK"

            await asyncio.to_thread(poison)
            await wait_for(pilot, lambda: not app.gdb_attached)
            assert app.tl.breakpoints == set()
            assert app.tl.watchpoints == set()

            def broken(cancel: object, progress: object) -> None:
                raise OverflowError("int too big to convert")

            app.run_op(broken)  # type: ignore[arg-type]
            await settle(pilot, app)
            await pilot.press("g", *"100", "enter")
            await settle(pilot, app)
            await pilot.press("i")
            await settle(pilot, app)
            assert app.view is not None
            assert app.view.icount == 101

    asyncio.run(scenario())


def test_a_step_after_a_view_still_on_its_way_is_not_overwritten_by_it(walk_copy: Path) -> None:
    # A resize asks the engine for a fresh view; a step typed right after it used to run on
    # the UI thread as soon as the engine was done, so the fresh view (built at the old
    # position, its message not handled yet) was shown after the step's and stayed.
    async def scenario() -> None:
        app = make_app(walk_copy, fill_checkpoints=False)  # no idle work to make the engine busy
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            assert app.tl.position == 0
            app._refresh_view()
            deadline = time.monotonic() + 30
            while app.engine.busy("tui-view"):  # the UI thread blocks: its message waits
                assert time.monotonic() < deadline, "the engine never built the view"
                time.sleep(0.01)
            app.action_move("stepi")
            await settle(pilot, app)
            assert app.tl.position == 1
            assert app.view is not None
            assert app.view.icount == 1

    asyncio.run(scenario())
