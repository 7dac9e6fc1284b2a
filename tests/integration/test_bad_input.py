"""Bad files and bad command lines: one clear line, exit status 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lz4.frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BIN, SAMPLES, run_ttdbg
from ttdbg.backend.eventlog import Event, EventKind, encode_events
from ttdbg.backend.recfile import FrameType, RecordingWriter, read_frames
from ttdbg.backend.recording import EVENTS_HEAD, open_recording
from ttdbg.cli import main

HELLO = (SAMPLES / "hello.ttrec").read_bytes()


def assert_one_line_error(proc: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]


def test_missing_file() -> None:
    assert_one_line_error(
        run_ttdbg(["info", "/nonexistent.ttrec"]), "/nonexistent.ttrec", "no such"
    )


def test_directory() -> None:
    assert_one_line_error(run_ttdbg(["replay", "/tmp"]), "/tmp", "directory")


def test_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "x.ttrec"
    path.write_bytes(b"hello, I am a text file\n")
    assert_one_line_error(run_ttdbg(["info", str(path)]), str(path), "not a ttdbg recording")


def test_newer_format_version(tmp_path: Path) -> None:
    path = tmp_path / "new.ttrec"
    path.write_bytes(HELLO[:8] + struct.pack("<H", 999) + HELLO[10:])
    assert_one_line_error(run_ttdbg(["replay", str(path)]), "version 999", "newer")


def test_other_architecture_is_refused(tmp_path: Path) -> None:
    elf = bytearray((BIN / "hello").read_bytes())
    struct.pack_into("<H", elf, 18, 21)  # e_machine = EM_PPC64
    path = tmp_path / "arm"
    path.write_bytes(bytes(elf))
    path.chmod(0o755)
    proc = run_ttdbg(["record", "-o", str(tmp_path / "a.ttrec"), "--", str(path)])
    assert_one_line_error(proc, "unsupported architecture", "PPC64")


def test_not_an_elf(tmp_path: Path) -> None:
    # Without a #! line execve refuses it (ENOEXEC); scripts are test_scripts.py's.
    path = tmp_path / "text"
    path.write_text("echo hi\n")
    path.chmod(0o755)
    assert_one_line_error(
        run_ttdbg(["record", "-o", str(tmp_path / "s.ttrec"), "--", str(path)]), "not a valid ELF"
    )


def test_usage_errors() -> None:
    assert_one_line_error(run_ttdbg(["record"]), "no program")
    assert run_ttdbg(["replay", "--to", "minus", str(SAMPLES / "hello.ttrec")]).returncode == 2
    assert run_ttdbg(["frobnicate"]).returncode == 2
    assert_one_line_error(run_ttdbg(["record", "--", "no-such-command-here"]), "not found")


def _run_cli(args: list[str]) -> tuple[int, str]:
    out = io.TextIOWrapper(io.BytesIO())
    err = io.TextIOWrapper(io.BytesIO(), write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    return status, err.buffer.getvalue().decode()  # type: ignore[attr-defined]


def _check_damaged(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".ttrec") as f:
        f.write(data)
        f.flush()
        for args in (["info", f.name], ["replay", "--verify", f.name]):
            status, err = _run_cli(args)
            assert status in (0, 2), (args, status, err)
            if status == 2:
                assert err.startswith("ttdbg: "), err
                assert err.count("\n") == 1, err
                assert f.name in err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(HELLO) - 1), st.integers(0, 7))
def test_bit_flips_give_a_clear_error(offset: int, bit: int) -> None:
    data = bytearray(HELLO)
    data[offset] ^= 1 << bit
    _check_damaged(bytes(data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(HELLO)))
def test_truncation_opens_or_gives_a_clear_error(cut: int) -> None:
    _check_damaged(HELLO[:cut])


def test_recorder_killed_mid_run_leaves_a_usable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.ttrec"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "record", "-o", str(path), "--snapshot-every", "2000000",
         "--", str(BIN / "compute")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # Wait for a few snapshot frames past the program frame, then kill without warning.
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 560_000:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the recorder finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    info = run_ttdbg(["info", "--json", str(path)])
    assert info.returncode == 0, info.stderr
    assert b'"truncated": true' in info.stdout
    rep = run_ttdbg(["replay", "--verify", str(path)])
    assert rep.returncode == 0, rep.stderr
    assert b"truncated" in rep.stderr


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    hello = str(BIN / "hello")
    assert_one_line_error(
        run_ttdbg(["record", "-o", str(tmp_path / "missing" / "x.ttrec"), "--", hello]),
        "cannot open",
        "No such file",
    )
    assert_one_line_error(run_ttdbg(["record", "-o", str(tmp_path), "--", hello]), "directory")


def _rewrite_events(src: Path, dest: Path, change: Callable[[list[Event]], list[Event]]) -> None:
    """Copy a recording with its event log changed (frames re-encoded with valid CRCs)."""
    frames, _truncated = read_frames(str(src))
    events = open_recording(str(src)).events
    changed = change(events)
    out = RecordingWriter(str(dest))
    for frame in frames:
        if frame.type == FrameType.EVENTS:
            continue
        if frame.type == FrameType.INDEX:
            break
        if frame.type == FrameType.END:
            payload = EVENTS_HEAD.pack(0, 0) + lz4.frame.compress(encode_events(changed, 0))
            out.write(FrameType.EVENTS, payload)
        out.write(frame.type, frame.payload)
    out.close()


def test_a_replay_that_leaves_the_recorded_path_exits_1_naming_the_icount(tmp_path: Path) -> None:
    src = SAMPLES / "inputs.ttrec"

    def other_stdin(events: list[Event]) -> list[Event]:
        # The first read from stdin now returns other bytes: the guest prints something else,
        # so its later write no longer matches the one in the log.
        out = []
        for ev in events:
            if (
                ev.kind == EventKind.SYSCALL
                and ev.args[0] == 0
                and ev.payload.startswith(b"a line")
            ):
                ev = Event(ev.kind, ev.icount, ev.args, ev.result, b"Z" * len(ev.payload))
            out.append(ev)
        return out

    bad = tmp_path / "diverges.ttrec"
    _rewrite_events(src, bad, other_stdin)
    rep = run_ttdbg(["replay", "--verify", str(bad)])
    err = rep.stderr.decode()
    assert rep.returncode == 1, err
    assert "diverged at icount" in err
    assert "Traceback" not in err
    icount = int(err.split("diverged at icount ")[1].split(":")[0])
    first_read = next(e for e in open_recording(str(src)).events if e.payload.startswith(b"a line"))
    assert icount > first_read.icount
