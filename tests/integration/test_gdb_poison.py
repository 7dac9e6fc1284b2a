"""One gdb client can never poison the session: bad values get `E` replies over a real socket,
nothing bad is kept, and the next client (real gdb) works; a poisoned session file is reported
and the recording still opens."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, require_tool, run_ttdbg
from tests.integration.test_gdb import run_gdb, sections
from tests.rsp_client import attach, without_registers
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.session import open_session

REC = open_recording(str(SAMPLES / "walk.ttrec"))
MAIN_TID = int.from_bytes(REC.events[0].payload[:4], "little")  # the recorded pid
STOP = b"T05thread:%x;" % MAIN_TID


@pytest.fixture
def server() -> Iterator[GdbServer]:
    timeline = Timeline(REC)
    srv = GdbServer(lambda: GdbStub(timeline, "/ttdbg/walk", REC.program_image))
    srv.start()
    yield srv
    srv.shutdown()


def test_bad_breakpoints_get_errors_and_the_next_client_still_works(server: GdbServer) -> None:
    gdb = require_tool("gdb")
    port = server.address[1]
    with attach(port) as client:
        assert client.ask(b"Z0,-1,1").startswith(b"E")
        assert client.ask(b"Z2,0,ffffffffffffffff").startswith(b"E")
        assert client.ask(b"qSupported:error-message+").startswith(b"PacketSize")
        refusal = client.ask(b"Z0,ffffffffffffffff,1")
        assert refusal.startswith(b"E.")
        assert b"address space" in refusal
        # The connection is intact and nothing was kept: `c` runs to the end.
        assert without_registers(client.ask(b"c")) == STOP + b"replaylog:end;"
        assert without_registers(client.ask(b"bc")) == STOP + b"replaylog:begin;"
        assert client.ask(b"D") == b"OK"
    out = sections(run_gdb(gdb, port, ["break step_value", "continue", "print round"]))
    assert "Breakpoint 1, step_value" in out[1], out
    assert "= 0" in out[2], out


def test_a_poisoned_session_is_reported_and_the_recording_still_opens(tmp_path: Path) -> None:
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    session_file = tmp_path / "walk.ttrec.ttsession"
    session_file.write_text(json.dumps({"version": 1, "breakpoints": [-1], "position": 100}))
    session = open_session(str(rec))
    assert session.timeline.breakpoints == set()
    assert session.timeline.position == 100
    line = session.problem_line()
    assert line is not None
    assert "breakpoints" in line
    assert "-1" in line
    # `ttdbg gdb` says so in one line and serves the recording from the good part.
    require_tool("gdb")
    out = run_ttdbg(["gdb", str(rec), "--", "-nx", "-batch", "-ex", "monitor info replay"])
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text
    assert "icount: 100 /" in text, text
    warnings = [ln for ln in text.splitlines() if ln.startswith("ttdbg: warning:")]
    assert len(warnings) == 1, text
    assert "breakpoints ignored" in warnings[0], text
    assert "Traceback" not in text


def test_gdb_from_a_restored_position_reverse_steps_like_a_fresh_session(tmp_path: Path) -> None:
    """Restored in the middle of main, `next` to the end and `reverse-next` twice must stop
    where they do from a fresh session moved there by hand (it ran back to _start)."""
    require_tool("gdb")
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    steps = ["-ex", "break walk.c:26", "-ex", "continue", "-ex", "next", "-ex", "next",
             "-ex", "reverse-next", "-ex", "reverse-next", "-ex", "bt"]  # fmt: skip

    def gdb_frames(*args: str, first: tuple[str, ...] = ()) -> list[str]:
        command = ["gdb", *args, str(rec), "--", "-nx", "-batch", *first, *steps]
        out = run_ttdbg(command, timeout=120)
        text = out.stdout.decode() + out.stderr.decode()
        assert out.returncode == 0, text
        return [ln for ln in text.splitlines() if ln.startswith("#")]

    middle = 12046  # in main, after line 26's breakpoint address
    fresh = gdb_frames("--no-session", first=("-ex", f"monitor seek {middle}"))
    assert fresh[0].startswith("#0"), fresh
    assert "_start ()" not in fresh[0], fresh
    (tmp_path / "walk.ttrec.ttsession").write_text(json.dumps({"version": 1, "position": middle}))
    assert gdb_frames() == fresh


def test_serve_with_a_saved_position_reverse_steps_like_a_fresh_session(tmp_path: Path) -> None:
    """`ttdbg serve` with a session: gdb connected in the middle of the (static) program took
    it for the dynamic loader (its _r_debug is filled in by then) and reverse-next from
    line 28 ran back to _start. gdb now connects at the start; `monitor seek` to the saved
    position, then two reverse-nexts stop where they do after a plain `continue` there."""
    gdb = require_tool("gdb")
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    back = ["reverse-next", "reverse-next", "info line *$pc"]
    fresh = Timeline(open_recording(str(rec)))
    with _serving(rec) as (port, _hint):
        whole = run_gdb(gdb, port, ["break walk.c:28", "continue", "monitor info replay", *back])
    saved = int(re.search(r"icount: (\d+) /", whole).group(1))  # type: ignore[union-attr]
    out = sections(whole)
    assert 0 < saved < fresh.end
    expected = _where(out[-1])
    assert expected.startswith('Line 26 of "src/walk.c"'), out
    (tmp_path / "walk.ttrec.ttsession").write_text(json.dumps({"version": 1, "position": saved}))
    with _serving(rec) as (port, hint):
        assert f"monitor seek {saved}" in hint, hint
        out = sections(run_gdb(gdb, port, [
            f"monitor seek {saved}", "maintenance flush register-cache", "break walk.c:28", *back,
        ]))  # fmt: skip
    assert _where(out[-1]) == expected, out


def _where(info_line: str) -> str:
    found = re.search(r"^Line \d+ of .* starts at address 0x[0-9a-f]+", info_line, re.M)
    return found.group(0) if found else info_line


@contextlib.contextmanager
def _serving(rec: Path) -> Iterator[tuple[int, str]]:
    """`ttdbg serve REC` on a free port: (port, what it printed after the listening line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "serve", str(rec), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        port = int(re.search(r"listening on [\d.]+:(\d+)", first).group(1))  # type: ignore[union-attr]
        hint = proc.stdout.readline() if os.path.exists(f"{rec}.ttsession") else ""
        yield port, hint
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
