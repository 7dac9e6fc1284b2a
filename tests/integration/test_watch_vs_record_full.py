"""Watchpoints through the stub against gdb's own `record full` on the native program: the
same command sequence, back and forth over the writes to a global, prints the same stops
(frame, pc, old and new values) in both.

gdb 13's `record full` never fires a *hardware* watchpoint while replaying (gdb bug 21969,
fixed in gdb 15: the breakpoint check overwrote the watchpoint stop reason), so reverse runs
there go straight back to the start of the recording. Its *software* watchpoints, which gdb
checks itself after every single step, do work in replay and are the oracle here; ttdbg is
driven with the hardware watchpoints gdb uses by default, so the stub's stop replies are what
is compared. As gdb's own test gdb.reverse/watch-reverse.exp expects, a reverse-continue from
a forward stop reports the write just made (reversed), and a continue from a reverse stop
(which is on the writing instruction) reports that write again. Steps over the store report
the watchpoint in both directions, as they do in gdb. Read and access watchpoints are
compared, forwards, with gdb's hardware watchpoints on the native program.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BIN
from tests.integration.gdbsections import gdb_sections, normalized
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import Recording
from ttdbg.backend.timeline import Timeline

WALK = BIN / "walk"  # static, -g: a loop of 40 calls, each writing `counter` once
# Both sides stop at depth(), after the loop, with the breakpoints gone; `record full`
# has then logged the whole loop (and no further: its log ends there).
TO_THE_END_OF_THE_LOOP = ["break depth", "continue", "delete"]

SEQUENCE = [
    "watch counter",
    "reverse-continue",  # the last write (round 39), reversed
    "info registers rip",
    "reverse-continue",  # the one before (round 38)
    "continue",  # from a reverse stop: the same write forward again
    "info registers rip",
    "reverse-continue",  # from a forward stop: the same write reversed
    "reverse-continue",
    "continue",
    "continue",
    "reverse-stepi",  # back over the store: the watchpoint reports the step
    "reverse-stepi",
    "info registers rip",
    "stepi",
    "stepi",  # over the store again
    "info registers rip",
    "reverse-next",  # line steps over the store, both ways
    "next",
    "reverse-finish",  # out of step_value, backwards over its store
    "finish",
    "finish",  # nothing written on the way back to main
    "info registers rip",
]


@pytest.fixture
def port(walk_rec: Recording) -> Iterator[int]:
    """A stub on a timeline of its own, at the start of the recording."""
    timeline = Timeline(walk_rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/walk", walk_rec.program_image))
    server.start()
    yield server.address[1]
    server.shutdown()


def test_watch_both_ways_matches_record_full(gdb: str, port: int) -> None:
    native = gdb_sections(
        gdb,
        ["break main", "run", "record full", "delete", "set can-use-hw-watchpoints 0",
         *TO_THE_END_OF_THE_LOOP],
        SEQUENCE,
        WALK,
    )  # fmt: skip
    ours = gdb_sections(
        gdb,
        [f"file {WALK}", f"target remote 127.0.0.1:{port}", "break main", "continue", "delete",
         *TO_THE_END_OF_THE_LOOP],
        SEQUENCE,
        None,
    )  # fmt: skip
    assert len(native) == len(ours) == len(SEQUENCE), (native, ours)
    expected = [normalized(s) for s in native]
    # The oracle did what the sequence is about: stops at writes in both directions, none of
    # them at the end or start of its log.
    assert all("No more reverse-execution history" not in s for s in expected), expected
    assert sum("Old value" in s for s in expected) == 13, expected
    for cmd, want, got in zip(SEQUENCE, expected, (normalized(s) for s in ours), strict=True):
        assert got == want, f"after `{cmd}`:\n--- gdb record full\n{want}\n--- ttdbg\n{got}"


# Read and access watchpoints have no replay oracle in gdb (software watchpoints cannot read,
# and record full logs no reads): forwards, the native program under gdb's hardware
# watchpoints is one, steps over the load and the store included.
READ_AND_ACCESS = [
    "delete",
    "rwatch counter",
    "stepi",  # the load of counter
    "info registers rip",
    "stepi",  # the store: a read watchpoint says nothing
    "info registers rip",
    "delete",
    "awatch counter",
    "continue",  # the next round's load
    "stepi",  # its store
    "info registers rip",
    "next",
    "continue",
    "info registers rip",
]


def test_read_and_access_watch_steps_match_native_gdb(gdb: str, port: int) -> None:
    load = "break *step_value+6"  # add counter(%rip),%edx
    native = gdb_sections(gdb, [load, "run"], READ_AND_ACCESS, WALK)
    ours = gdb_sections(
        gdb, [f"file {WALK}", f"target remote 127.0.0.1:{port}", load, "continue"],
        READ_AND_ACCESS, None,
    )  # fmt: skip
    assert len(native) == len(ours) == len(READ_AND_ACCESS), (native, ours)
    expected = [normalized(s) for s in native]
    assert sum("Value = " in s or "Old value" in s for s in expected) == 4, expected
    for cmd, want, got in zip(READ_AND_ACCESS, expected, map(normalized, ours), strict=True):
        assert got == want, f"after `{cmd}`:\n--- gdb, native\n{want}\n--- ttdbg\n{got}"
