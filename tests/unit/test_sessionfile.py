"""Session files are untrusted: regular files only, bounded, validated field by field, saved
atomically without following planted links."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
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
                  "watchpoints", "unknown fields"):  # fmt: skip
        assert field in line, (field, line)


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
