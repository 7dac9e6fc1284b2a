"""The engine answers watchpoint searches from the index exactly as it does by replaying:
reverse and forward, with replay breaks, `last` and `monitor last`, at seeded random
positions on all three architectures."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.gdb.monitor import MonitorCommands
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.index.query import run_query
from ttdbg.symbols import Symbols

POSITIONS = 100


@pytest.fixture(
    scope="module", params=["", "aarch64/", "riscv64/"], ids=["x86_64", "aarch64", "riscv64"]
)
def indexed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "walk.ttrec"
    shutil.copyfile(SAMPLES / f"{request.param}walk.ttrec", path)
    build_index(str(path), runner=run_here)
    return path


def targets(path: Path) -> list[tuple[int, int]]:
    """Watched ranges: the globals, one element of an array, and places the program wrote
    (stack slots, libc data), partly overlapping writes of other sizes."""
    rec = open_recording(str(path))
    syms = Symbols(rec.program_image, rec.program.load_bias)
    ranges = [(syms.by_name["counter"].addr, 4), (syms.by_name["history"].addr + 12, 4)]
    ranges.append((syms.by_name["history"].addr, 64))
    rows = run_query(rec, "SELECT DISTINCT addr, size FROM writes ORDER BY addr").rows
    rng = random.Random(7)
    for addr, size in rng.sample(rows, 12):
        ranges.append((addr, size))
        ranges.append((addr + 1, 2))
    return ranges


def test_index_answers_equal_replay_answers(indexed: Path) -> None:
    rec = open_recording(str(indexed))
    fast, slow, fresh = Timeline(rec), Timeline(rec), Timeline(rec)
    assert fast.index is not None
    slow.index = fresh.index = None
    ranges = targets(indexed)
    rng = random.Random(15)
    lookups = 0
    for _ in range(POSITIONS):
        where = rng.randrange(0, fast.end + 1)
        addr, length = rng.choice(ranges)
        forward = rng.random() < 0.5
        for tl in (fast, slow):
            tl.seek(where)
        a = fast.find_write(addr, length, forward)
        lookups += fast.answered_by_index
        b = slow.find_write(addr, length, forward)
        assert a == b, (where, hex(addr), length, forward)
        assert fast.position == slow.position
        # The state there is the one a plain seek gives. (Not compared with `slow`: a
        # forward watchpoint hit by a rep-string write leaves the replay one iteration off.)
        fresh.seek(fast.position)
        assert fast.registers() == fresh.registers()
    assert lookups == POSITIONS


def test_replay_breaks_and_user_watchpoints_agree(indexed: Path) -> None:
    rec = open_recording(str(indexed))
    fast, slow = Timeline(rec), Timeline(rec)
    slow.index = None
    addr, length = targets(indexed)[0]
    rng = random.Random(3)
    for tl in (fast, slow):
        tl.add_watchpoint("write", addr, length)
    for _ in range(20):
        where = rng.randrange(0, fast.end + 1)
        brk = rng.randrange(0, fast.end + 1)
        for tl in (fast, slow):
            tl.remove_replay_break()
            tl.add_replay_break(brk)
            tl.seek(where)
        assert fast.reverse_continue() == slow.reverse_continue()
        assert fast.answered_by_index
        assert fast.continue_() == slow.continue_()
        assert fast.position == slow.position


def test_last_and_monitor_last(indexed: Path) -> None:
    rec = open_recording(str(indexed))
    fast, slow = Timeline(rec), Timeline(rec)
    slow.index = None
    rng = random.Random(11)
    ranges = targets(indexed)
    for _ in range(20):
        where = rng.randrange(0, fast.end + 1)
        addr, length = rng.choice(ranges)
        fast.seek(where)
        slow.seek(where)
        mapped = fast.machine.is_mapped(addr, length)
        before = fast.read_memory(addr, length) if mapped else None
        a, b = fast.last_write(addr, length), slow.last_write(addr, length)
        assert a == b
        if a is None:
            assert fast.position == where  # nothing wrote it: stay
        else:
            assert isinstance(a, WatchpointHit)
            if before is not None:
                assert a.new == before  # the write gave the bytes their value at `where`
    counter = targets(indexed)[0][0]
    fast.seek(fast.end)
    ok, text = MonitorCommands(fast).run(f"last {counter:#x} 4", CancelToken())
    assert ok, text
    assert "(index lookup)" in text
    assert text.startswith("written at icount ")
    ok, text = MonitorCommands(fast).run("last", CancelToken())
    assert not ok
