"""`b NAME` in the TUI has a location in every file defining a function NAME, as gdb's `break
NAME`: two libraries' dup_fn (not loaded yet when it is set), the program's two files' static
twin, the dynamic loader's and libc's _dl_catch_exception. info breakpoints and the marks pane
list them as gdb's N.M, the status line names the one stopped at, and continue and
reverse-continue stop at each: against gdb on the native program and a brute-force replay.
The first lookup of a library function runs off the UI thread: a key typed meanwhile is
handled."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import require_tool, run_ttdbg
from tests.integration.dynprogs import build_twins
from tests.integration.reloads import brute_force, guest_lines
from tests.tui.conftest import settle, wait_for
from tests.tui.test_dynamic_tui import pane_text
from ttdbg import libraryfunctions
from ttdbg.session import open_session
from ttdbg.symbols import Symbols
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.status import StatusBar
from ttdbg.tui.widgets.tabbar import TabBar

# The source files gdb names (compile_source names a file's source NAME.c).
FILES = {"liba.so.c": "a", "libb.so.c": "b", "twins.c": "main", "aux.c": "aux"}
LIBRARY_SOURCES = {"liba.so": "liba.so.c", "libb.so": "libb.so.c"}


@dataclass(frozen=True)
class NativeGdb:
    stops: list[tuple[str, str, int]]  # (gdb's N.M, source file, v) of each stop, in order
    past_entry: dict[str, int]  # function (FILES' key) -> where its stops are past its start
    locations: list[tuple[str, str]]  # info breakpoints at the first stop: (N.M, source file)
    loader_locations: int  # break _dl_catch_exception's count, libc and the loader loaded


def native_gdb(argv: list[str]) -> NativeGdb:
    """gdb on the native program: `break dup_fn` while no library defines it, `break twin`,
    then run and continue to the end."""
    at_first = ["-ex", "info breakpoints", "-ex", "break _dl_catch_exception", "-ex", "delete 3"]
    probe = ["-ex", "print/x $pc", "-ex", "continue"]
    proc = subprocess.run(
        [require_tool("gdb"), "-nx", "-batch", "-ex", "set pagination off",
         "-ex", "set breakpoint pending on", "-ex", "break dup_fn", "-ex", "break twin",
         "-ex", "run", *at_first, *probe * 5, "--args", *argv],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "Breakpoint 1 (dup_fn) pending." in out, out
    assert "exited normally" in out, out
    stops = [
        (number, Path(file).name, int(v))
        for number, v, file in re.findall(
            r"^Breakpoint (\d+\.\d+), \w+ \(v=(\d+)\) at (\S+):\d+$", out, flags=re.M
        )
    ]
    pcs = [int(pc, 16) for pc in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, flags=re.M)]
    assert len(stops) == len(pcs) == 5, out
    starts = _printed(out)
    past_entry = {
        FILES[file]: pc - starts[FILES[file]] for (_n, file, _v), pc in zip(stops, pcs, strict=True)
    }
    locations = [
        (number, Path(file).name)
        for number, file in re.findall(
            r"^(\d+\.\d+)\s+y\s+0x[0-9a-f]+ in \w+ at (\S+):\d+$", out, flags=re.M
        )
    ]
    loader = re.search(r"^Breakpoint 3 at .*\((\d+) locations\)$", out, flags=re.M)
    assert loader is not None, out
    return NativeGdb(stops, past_entry, locations, int(loader.group(1)))


def _printed(text: str) -> dict[str, int]:
    """The functions' addresses the program printed."""
    found = re.search(r"a (0x\w+) b (0x\w+) main (0x\w+) aux (0x\w+)", text)
    assert found is not None, text
    return dict(zip(("a", "b", "main", "aux"), (int(a, 16) for a in found.groups()), strict=True))


@dataclass(frozen=True)
class Twins:
    rec: Path
    gdb: NativeGdb
    hits: list[tuple[int, int]]  # (icount, pc) of each stop, in order (brute-force replay)
    files: dict[int, str]  # address in the replay -> the source file gdb stops in there


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Twins:
    tmp = tmp_path_factory.mktemp("twins")
    argv = build_twins(tmp)
    gdb = native_gdb(argv)
    assert [v for _n, _f, v in gdb.stops] == [1, 2, 3, 4, 5]
    # Each location is its own: the two libraries' dup_fn, the two files' twin.
    assert sorted(n for n, _f in gdb.locations) == ["1.1", "1.2", "2.1", "2.2"], gdb
    assert gdb.loader_locations == 2, gdb
    rec = tmp / "twins.ttrec"
    proc = run_ttdbg(["record", "-o", str(rec), "--", *argv], timeout=300)
    assert proc.returncode == 0, proc.stderr
    starts = _printed("\n".join(text for _i, text in guest_lines(rec)))
    files = {starts[FILES[f]] + gdb.past_entry[FILES[f]]: f for f in FILES}
    seen = brute_force(rec, set(files))
    assert [files[pc] for _i, pc in seen] == [f for _n, f, _v in gdb.stops], seen
    return Twins(rec, gdb, seen, files)


def notes(app: TtdbgApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def command(pilot: Pilot[None], app: TtdbgApp, line: str) -> str:
    await pilot.press("colon", *line, "enter")
    await settle(pilot, app)
    return notes(app)[-1]


def located(twins: Twins, rows: str) -> list[tuple[str, str]]:
    """(N.M, source file) of each location row of info breakpoints: a library's by its file
    name, the program's by its address."""
    out = []
    for number, what in re.findall(r"^(\d+\.\d+)  (.*)$", rows, flags=re.M):
        library = re.search(r" in \S*/(lib[ab]\.so) ", what)
        if library is not None:
            out.append((number, LIBRARY_SOURCES[library.group(1)]))
        else:
            out.append((number, twins.files[int(what.split()[0], 16)]))
    return out


def test_break_has_a_location_in_each_file_defining_the_function(twins: Twins) -> None:
    async def scenario() -> None:
        app = TtdbgApp(open_session(str(twins.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            assert app.position == 0  # no library loaded yet
            assert await command(pilot, app, "b dup_fn") == "Breakpoint 1: dup_fn (2 locations)"
            assert await command(pilot, app, "b twin") == "Breakpoint 2: twin (2 locations)"
            rows = await command(pilot, app, "info breakpoints")
            assert rows.splitlines()[0] == "1  break  <MULTIPLE>", rows
            assert re.search(r"^1\.1  dup_fn in \S+/liba\.so \(not mapped here\)$", rows, re.M)
            assert re.search(r"^1\.2  dup_fn in \S+/libb\.so \(not mapped here\)$", rows, re.M)
            assert [f for n, f in located(twins, rows) if n.startswith("2.")] == [
                f for n, f in twins.gdb.locations if n.startswith("2.")
            ], rows  # the program's two, in address order as gdb's

            for (icount, pc), (number, _file, v) in zip(twins.hits, twins.gdb.stops, strict=True):
                await pilot.press("c")
                await settle(pilot, app)
                assert app.view is not None
                assert (app.view.icount, app.view.pc) == (icount, pc), (number, app.last_stop)
                assert app.view.registers["rdi"] & 0xFFFFFFFF == v
                status = app.query_one(StatusBar).line(200).plain
                assert f"breakpoint {number} at {pc:#x} (icount {icount})" in status, status
                if v == 1:  # both libraries loaded: the locations in gdb's order
                    rows = await command(pilot, app, "info breakpoints")
                    assert located(twins, rows) == twins.gdb.locations, rows
                    marks = await pane_text(pilot, app, "marks")
                    assert "● break 1: 2 locations" in marks, marks
                    assert re.search(rf"1\.\d dup_fn in liba\.so at {pc:#x}", marks), marks
                    assert pc in app._marked(app.view)
                    said = await command(pilot, app, "b _dl_catch_exception")
                    assert said.endswith(f"({twins.gdb.loader_locations} locations)"), said
                    await command(pilot, app, "delete 3")
            await pilot.press("c")
            await settle(pilot, app)
            assert app.position == app.tl.end

            numbers = [number for number, _f, _v in twins.gdb.stops]
            for (icount, pc), number in reversed(list(zip(twins.hits, numbers, strict=True))):
                await pilot.press("C")
                await settle(pilot, app)
                assert app.view is not None
                assert (app.view.icount, app.view.pc) == (icount, pc), app.last_stop
                status = app.query_one(StatusBar).line(200).plain
                assert f"breakpoint {number} at {pc:#x}" in status, status
            await pilot.press("C")
            await settle(pilot, app)
            assert app.position == 0

            await command(pilot, app, "delete 1")  # every location goes
            assert not app.tl.code_breakpoints
            assert len(app.tl.breakpoints) == 2

    asyncio.run(scenario())


def test_tbreak_goes_whole_at_its_first_stop(twins: Twins) -> None:
    icount1, pc1 = twins.hits[0]

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(twins.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await command(pilot, app, "tbreak dup_fn")
            await pilot.press("c")
            await settle(pilot, app)
            assert app.view is not None
            assert (app.view.icount, app.view.pc) == (icount1, pc1)
            assert not app.tl.code_breakpoints
            assert not app.breakpoint_numbers
            await pilot.press("c")
            await settle(pilot, app)
            assert app.position == app.tl.end  # libb's location went with it, as in gdb

    asyncio.run(scenario())


def test_a_key_is_handled_while_the_libraries_are_looked_up(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The libraries' symbols are read on the engine thread: while that runs (held here
    until the key has been seen), the status line says so and a key works."""
    release = threading.Event()
    reading = threading.Event()

    def slow_symbols(image: bytes, bias: int = 0) -> Symbols:
        reading.set()
        release.wait(timeout=20)
        return Symbols(image, bias)

    monkeypatch.setattr(libraryfunctions, "Symbols", slow_symbols)

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(twins.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            assert app.query_one(TabBar).active != "tab-marks"
            await pilot.press("colon", *"b dup_fn", "enter")
            await wait_for(pilot, reading.is_set)
            await pilot.press("7")  # the marks pane
            await pilot.pause()
            looking = release.is_set()
            status = app.query_one(StatusBar).line(200).plain
            tab = app.query_one(TabBar).active
            release.set()
            await settle(pilot, app)
            assert not looking
            assert tab == "tab-marks"
            assert "looking up dup_fn in the program and its libraries" in status, status
            assert notes(app)[-1] == "Breakpoint 1: dup_fn (2 locations)"
            status = app.query_one(StatusBar).line(200).plain
            assert "looking up" not in status, status

    asyncio.run(scenario())


def test_space_takes_one_location_out(twins: Twins) -> None:
    """space on the line of one location removes that one: the breakpoint keeps the other
    (info breakpoints lists it alone) and still stops there."""
    (icount1, pc1), (icount2, pc2), (icount3, _pc3) = twins.hits[:3]

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(twins.rec), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await command(pilot, app, "b dup_fn")
            await pilot.press("c")
            await settle(pilot, app)
            assert app.view is not None
            assert (app.view.icount, app.view.pc) == (icount1, pc1)  # liba's
            app.action_toggle_breakpoint()  # the selected line is the pc's
            await settle(pilot, app)
            assert len(app.tl.code_breakpoints) == 1
            rows = await command(pilot, app, "info breakpoints")
            assert re.fullmatch(rf"1  break  dup_fn in \S+/libb\.so at {pc2:#x}", rows), rows
            await pilot.press("c")
            await settle(pilot, app)
            assert (app.view.icount, app.view.pc) == (icount2, pc2)
            await pilot.press("c")
            await settle(pilot, app)
            assert app.position == app.tl.end  # not at liba's second call (icount3)
            assert icount3 < app.position

    asyncio.run(scenario())
