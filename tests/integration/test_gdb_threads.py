"""Real gdb on a recording of a racy threaded program: threads listed, watchpoints see every
thread's writes, and reverse-continue lands on the last write in the thread that made it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.integration.test_gdb import run_gdb, sections
from tests.threads.build import build
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.backend.tracer import WatchKind, Watchpoint
from ttdbg.symbols import Symbols


@pytest.fixture(scope="module")
def racy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recording]:
    program = build("pthreads.c")
    path = tmp_path_factory.mktemp("gdbthreads") / "racy.ttrec"
    Recorder(str(program), [b"pthreads", b"racy", b"5000"], [], str(path), 50_000).run()
    return program, open_recording(str(path))


@pytest.fixture
def served(racy: tuple[Path, Recording]) -> Iterator[tuple[int, Timeline]]:
    _program, rec = racy
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/pthreads", rec.program_image))
    server.start()
    yield server.address[1], timeline
    server.shutdown()


def last_write_by_brute_force(rec: Recording, addr: int) -> tuple[int, int]:
    """(icount, thread) of the last write to the 8 bytes at `addr`, found by one forward run
    that records every hit, independent of reverse-continue."""
    tl = Timeline(rec)
    tl.tracer.add_watchpoint(Watchpoint(WatchKind.WRITE, addr, 8))
    tl.tracer.arm(stop_on_hit=False, after=-1)
    tl.proc.machine.run(tl.end)
    tl.tracer.disarm()
    hit = tl.tracer.hits[-1]
    return hit.icount, tl.thread_at(hit.icount)


def test_reverse_continue_to_the_last_write_names_its_thread(
    racy: tuple[Path, Recording], served: tuple[int, Timeline]
) -> None:
    gdb = require_tool("gdb")
    program, rec = racy
    port, timeline = served
    out = sections(run_gdb(gdb, port, [
        "info threads", "continue", "watch counter", "reverse-continue", "info threads",
        "print counter", "bt 1", "thread apply all bt 1", "reverse-stepi", "stepi",
    ], elf=program, timeout=120))  # fmt: skip
    assert "* 1    Thread " in out[0]  # one thread at the start
    final = int(re.search(rb"counter (\d+)", rec_output(rec)).group(1))  # type: ignore[union-attr]
    addr = Symbols(rec.program_image).resolve("counter")
    assert addr is not None
    icount, writer = last_write_by_brute_force(rec, addr)
    # gdb stopped on the write, old value in memory, in the writer's thread.
    assert "hit Hardware watchpoint 1: counter" in out[3]
    assert f"New value = {final}" in out[3] or f"Old value = {final}" in out[3]
    assert timeline.position == icount
    listed = re.findall(r"Thread (0x[0-9a-f]+|\d+)", out[4])
    current = re.search(r"^\* \d+\s+Thread (0x[0-9a-f]+|\d+)", out[4], re.M)
    assert current is not None
    assert int(current.group(1), 0) == writer
    alive = {t.tid for t in timeline.threads()}
    assert {int(t, 0) for t in listed} == alive
    assert len(alive) >= 2
    assert '"pthreads-x86_64"' in out[4]  # the comm of each thread, from qXfer:threads:read
    assert "racer" in out[6]
    assert len(re.findall(r"^Thread \d+ \(Thread ", out[7], re.M)) == len(alive)
    # reverse-stepi then stepi: back where the watchpoint stopped, still in the writer.
    assert "counter = counter + 1" in out[8]
    assert "counter = counter + 1" in out[9]
    assert timeline.position == icount


def rec_output(rec: Recording) -> bytes:
    return b"".join(
        ev.payload for ev in rec.events if ev.kind.name == "SYSCALL" and ev.args[0] == 1
    )
