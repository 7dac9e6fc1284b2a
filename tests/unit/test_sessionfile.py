"""Session files are untrusted: regular files only, bounded, validated field by field, saved
atomically without following planted links."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from ttdbg.session import open_session
from ttdbg.sessionfile import MAX_SESSION_BYTES, parse_session


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    dest = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", dest)
    return dest


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b'{"version":"2"}', "version"),
        (b'{"version":3}', "version"),
        (b'{"version":1,"position":Infinity}', "not JSON"),
        (b'{"version":1,"position":NaN}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not a JSON table"),
    ],
)
def test_unusable_sessions_are_named_in_one_line(text: bytes, problem: str) -> None:
    data, notes = parse_session(text)
    assert data is None
    assert len(notes) == 1
    assert problem in notes[0]


def test_bad_fields_are_dropped_and_the_rest_applies(rec: Path) -> None:
    session_file = rec.with_name("walk.ttrec.ttsession")
    session_file.write_text(json.dumps({
        "version": 1, "position": 1.5, "breakpoints": [-1], "bookmarks": {"a": 700},
        "watchpoints": [{"kind": "write", "address": 4096, "length": 2**64}],
        "named": {"x" * 500: 3}, "replay_breaks": [2**70], "layout": {"tab": 7},
        "history": {"back": [True]}, "surprise": 1,
        "code_breakpoints": [{"file": "AB" * 32, "offset": 0x1100}],
    }))  # fmt: skip
    session = open_session(str(rec))
    assert session.bookmarks == {"a": 700}
    assert session.timeline.position == 0
    assert session.timeline.breakpoints == frozenset()
    assert session.timeline.watchpoints == frozenset()
    line = session.problem_line()
    assert line is not None
    assert "\n" not in line
    for field in ("position", "breakpoints", "named", "replay_breaks", "layout", "history",
                  "watchpoints", "unknown fields", "code_breakpoints"):  # fmt: skip
        assert field in line, (field, line)


def test_a_library_breakpoint_on_a_file_the_recording_lacks_is_left_out(rec: Path) -> None:
    rec.with_name("walk.ttrec.ttsession").write_text(json.dumps({
        "version": 1, "code_breakpoints": [{"file": "ab" * 32, "offset": 0x1100}],
    }))  # fmt: skip
    session = open_session(str(rec))
    assert session.timeline.code_breakpoints == frozenset()
    line = session.problem_line()
    assert line is not None
    assert "breakpoint in file abababababab ignored: breakpoint on a file the recording" in line


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "symlink", "huge", "directory"])
def test_only_regular_files_are_read_and_never_overwritten(rec: Path, kind: str) -> None:
    session_file = rec.with_name("walk.ttrec.ttsession")
    victim = rec.with_name("victim")
    victim.write_text("keep me")
    if kind == "fifo":
        os.mkfifo(session_file)  # opening it must not wait for a writer
    elif kind == "dev-zero":
        session_file.symlink_to("/dev/zero")
    elif kind == "symlink":
        session_file.symlink_to(victim)
    elif kind == "huge":
        session_file.write_bytes(b" " * (MAX_SESSION_BYTES + 1))
    else:
        session_file.mkdir()
    session = open_session(str(rec))
    assert session.timeline.position == 0
    assert session.problem_line() is not None
    session.save()
    assert victim.read_text() == "keep me"


def test_save_is_atomic_and_ignores_a_planted_temporary_name(rec: Path) -> None:
    session_file = rec.with_name("walk.ttrec.ttsession")
    victim = rec.with_name("victim")
    victim.write_text("keep me")
    rec.with_name("walk.ttrec.ttsession.tmp").symlink_to(victim)  # the old fixed name
    session = open_session(str(rec))
    session.timeline.seek(1234)
    session.save()
    assert victim.read_text() == "keep me"
    assert json.loads(session_file.read_text())["position"] == 1234
    leftovers = [p.name for p in rec.parent.iterdir() if p.name.startswith(".ttsession-")]
    assert leftovers == []
    assert open_session(str(rec)).timeline.position == 1234


# A process saving its session (as the TUI does after `q`) that stops inside the save, after
# its temporary file is made, until its stdin has a line.
SAVING = """
import os, sys
from ttdbg.session import open_session
session = open_session(sys.argv[1])
session.bookmarks["here"] = 7
real_fsync = os.fsync
def fsync(fd):
    print("saving", flush=True)
    sys.stdin.readline()
    real_fsync(fd)
os.fsync = fsync
session.save()
print("saved", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_during_the_save_leaves_no_temporary_file(rec: Path, sig: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SAVING, str(rec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "the child never reached the save"
        assert child.stdout.readline() == b"saving\n"
        assert [p.name for p in rec.parent.glob(".ttsession-*.tmp")]  # mid-save
        child.send_signal(sig)
        child.stdin.write(b"go on\n")
        child.stdin.close()
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait(timeout=60)
    # The save finished, then the signal took effect (its default action: the process ended
    # of it, before the line after the save).
    assert child.returncode == -sig, child.stderr.read() if child.stderr else None
    assert child.stdout.read() == b""
    assert not list(rec.parent.glob(".ttsession-*.tmp"))
    assert json.loads((rec.parent / "walk.ttrec.ttsession").read_text())["bookmarks"] == {"here": 7}
