"""The TUI's step keys over a store to a watched variable stop there and report the watchpoint,
as gdb's stepi, nexti, step, next, finish and their reverse forms do. The oracle is gdb's own
`record full` on the native walk (software watchpoints: gdb 13's hardware ones never fire in
replay, gdb bug 21969) for the pc and the old and new values, and plain instruction steps
over the recording for the icount of the store."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from tests.conftest import BIN, SAMPLES, require_tool
from tests.integration.gdbsections import gdb_sections
from tests.tui.conftest import settle
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.status import StatusBar

# Both sides stand on line 10 of the last round (record full has logged the whole loop by
# then), watching `counter`, which line 10 writes once.
SETUP = ["break depth", "continue", "delete", "break walk.c:10", "reverse-continue", "delete"]

# (gdb's command, the TUI's key), back and forth over that store; the last stepi is past it.
MOVES = [
    ("next", "l"),
    ("reverse-stepi", "I"),
    ("stepi", "i"),
    ("reverse-next", "L"),
    ("finish", "f"),
    ("reverse-finish", "F"),
    ("step", "s"),
    ("reverse-step", "S"),
    ("nexti", "o"),
    ("reverse-nexti", "O"),
    ("stepi", "i"),
    ("stepi", "i"),
]


def native_stops(gdb: str) -> list[tuple[int, tuple[str, str] | None]]:
    """(pc, (old, new) of the watchpoint it reported, or None) after each of MOVES."""
    commands = []
    for cmd, _key in MOVES:
        commands += [cmd, "info registers rip"]
    setup = ["break main", "run", "record full", "delete", "set can-use-hw-watchpoints 0"]
    sections = gdb_sections(gdb, [*setup, *SETUP, "watch counter"], commands, BIN / "walk")
    assert len(sections) == 2 * len(MOVES), sections
    stops = []
    for said, rip in zip(sections[0::2], sections[1::2], strict=True):
        assert "No more reverse-execution history" not in said, said
        pc = re.search(r"^rip\s+(0x[0-9a-f]+)", rip, flags=re.M)
        assert pc is not None, rip
        values = re.search(r"Old value = (.*)\nNew value = (.*)\n", said)
        stops.append((int(pc.group(1), 16), values.groups() if values else None))  # type: ignore[misc]
    return stops


def test_step_keys_stop_at_watched_writes_as_gdb_does(tmp_path: Path) -> None:
    expected = native_stops(require_tool("gdb"))
    # The oracle went over the store every time but the last.
    assert [v is not None for _pc, v in expected] == [True] * (len(MOVES) - 1) + [False]
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    app = TtdbgApp(open_session(str(tmp_path / "walk.ttrec")))
    counter = app.symbols.by_name["counter"].addr

    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            for cmd in [*SETUP, "watch counter"]:
                await pilot.press("colon", *cmd.replace("reverse-continue", "rc"), "enter")
                await settle(pilot, app)
            # The store: the first instruction from here that changes `counter`.
            plain = Timeline(open_recording(str(tmp_path / "walk.ttrec")))
            plain.seek(app.position)
            while plain.read_memory(counter, 4) == app.tl.read_memory(counter, 4):
                plain.step(1)
            store = plain.position - 1
            for (cmd, key), (pc, values) in zip(MOVES, expected, strict=True):
                seen = len(app._notifications)
                await pilot.press(key)
                await settle(pilot, app)
                assert app.view is not None
                where = f"after `{key}` ({cmd})"
                assert app.view.pc == pc, where
                said = [n.message for n in list(app._notifications)[seen:]]
                status = app.query_one(StatusBar).line(200).plain
                if values is None:
                    assert not isinstance(app.last_stop, WatchpointHit), where
                    assert "watchpoint" not in status, (where, status)
                    continue
                forward = not cmd.startswith("reverse")
                assert app.position == store + forward, where
                old, new = values
                assert f"write watchpoint counter: old = {old}, new = {new}" in said, (where, said)
                assert isinstance(app.last_stop, WatchpointHit), where
                assert f"write watchpoint {counter:#x}" in status, (where, status)

    asyncio.run(scenario())


def test_watch_stops_show_where_gdb_shows_them_on_aarch64(tmp_path: Path) -> None:
    """AArch64's watchpoints are not steppable: the stub stops before the store going forward
    and after it going back, and gdb steps over it before it shows the stop. The TUI shows
    what gdb's user sees, as on x86-64 (checked against gdb above): after the store forward,
    on it backward, for continue and the step keys alike; the store is found by plain
    instruction steps (where `counter` changes) and the values are those before and after
    each move."""
    shutil.copy(SAMPLES / "aarch64" / "walk.ttrec", tmp_path / "walk.ttrec")
    app = TtdbgApp(open_session(str(tmp_path / "walk.ttrec")))
    counter = app.symbols.by_name["counter"].addr
    plain = Timeline(open_recording(str(tmp_path / "walk.ttrec")))

    def value(icount: int) -> int:
        plain.seek(icount)
        return int.from_bytes(plain.read_memory(counter, 4), "little")

    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *"watch counter", "enter")
            await settle(pilot, app)
            # (key, forward, over the store): c, c to the second write, back over it, on...
            for key, forward in [("c", True), ("c", True), ("C", False), ("i", True),
                                 ("I", False), ("C", False), ("c", True)]:  # fmt: skip
                before = app.position
                seen = len(app._notifications)
                await pilot.press(key)
                await settle(pilot, app)
                stop = app.last_stop
                assert isinstance(stop, WatchpointHit), (key, stop)
                store = app.position - 1 if forward else app.position
                assert value(store) != value(store + 1), (key, store)
                plain.seek(store)
                assert stop.pc == plain.pc, key
                old, new = (value(store), value(store + 1))[:: 1 if forward else -1]
                said = [n.message for n in list(app._notifications)[seen:]]
                assert f"write watchpoint counter: old = {old}, new = {new}" in said, (key, said)
                assert (app.position > before) == forward, key

    asyncio.run(scenario())
