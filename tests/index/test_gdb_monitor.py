"""`monitor last` and `monitor origin` through real gdb over a real socket, on an indexed
recording: the answers equal the replay scan's (last) and the in-process commands' (origin),
and gdb's own view follows the seek."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, SAMPLES, require_tool
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.gdb.monitor import MonitorCommands
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.symbols import Symbols

HOOKS = Path(__file__).resolve().parents[2] / "ttdbg" / "backend" / "gdb" / "ttdbg.gdb"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gdbmon") / "walk.ttrec"
    shutil.copyfile(SAMPLES / "walk.ttrec", path)
    build_index(str(path), runner=run_here)
    return path


@pytest.fixture
def served(indexed: Path) -> Iterator[tuple[Timeline, int]]:
    rec = open_recording(str(indexed))
    timeline = Timeline(rec)
    assert timeline.index is not None
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/walk", rec.program_image))
    server.start()
    try:
        yield timeline, server.address[1]
    finally:
        server.shutdown()


def gdb_sections(port: int, commands: list[str]) -> list[str]:
    args = [require_tool("gdb"), "-nx", "-batch", "-ex", "set pagination off",
            "-ex", f"file {BIN / 'walk'}", "-ex", f"target remote 127.0.0.1:{port}",
            "-ex", f"source {HOOKS}"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    # gdb writes monitor output to stderr: one stream keeps it in order with the markers.
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=120)  # fmt: skip
    return re.split(r"^@@@ .*$", out.stdout, flags=re.M)[1:]


def test_monitor_last_and_origin_through_gdb(indexed: Path, served: tuple[Timeline, int]) -> None:
    timeline, port = served
    rec = open_recording(str(indexed))
    syms = Symbols(rec.program_image, rec.program.load_bias)
    counter, history = syms.by_name["counter"].addr, syms.by_name["history"].addr
    end = timeline.end
    # The oracle: the same questions answered by replaying, on a timeline without the index.
    scan = Timeline(open_recording(str(indexed)))
    scan.index = None
    scan.seek(end)
    expected = scan.last_write(counter, 4)
    assert isinstance(expected, WatchpointHit)
    local = Timeline(open_recording(str(indexed)))
    local.seek(end)
    ok, origin_text = MonitorCommands(local).run(f"origin {history + 8:#x}", CancelToken())
    assert ok, origin_text

    out = gdb_sections(port, [
        f"monitor seek {end}", f"monitor last {counter:#x} 4", "info registers rip",
        f"monitor seek {end}", f"monitor origin {history + 8:#x}", "print 0",
    ])  # fmt: skip
    assert len(out) == 6, out
    last = out[1].strip()
    assert last == (
        f"written at icount {expected.icount} by pc {expected.pc:#x}: {expected.old.hex()} -> "
        f"{expected.new.hex()} (index lookup); now at icount {expected.icount}"
    ), last
    rip = re.search(r"rip\s+(0x[0-9a-f]+)", out[2])
    assert rip is not None
    scan.seek(expected.icount)
    assert int(rip.group(1), 16) == scan.pc
    assert out[4].strip() == origin_text.strip()
    assert "origin:" in out[4]
