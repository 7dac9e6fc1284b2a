"""A signal from outside (Ctrl-C) reaches the guest during recording, and replay repeats it."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, require_tool, run_ttdbg
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import EndOfHistory
from ttdbg.backend.timeline import Timeline


def record_until_interrupted(
    rec: Path, args: list[str], banner: bytes, program: Path = BIN / "spin"
) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "record", "-o", str(rec), "--", str(program), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == banner  # the guest is running (or blocked) now
        time.sleep(0.2)  # let it spin a little: the signal lands at an arbitrary icount
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=30)
    finally:
        proc.kill()
        if proc.stdin:
            proc.stdin.close()


@pytest.mark.parametrize(
    ("args", "banner"),
    [([], b"spinning\n"), (["block"], b"reading\n")],
    ids=["spinning", "in-read"],
)
def test_ctrl_c_ends_the_guest_as_natively_and_replays(
    args: list[str], banner: bytes, tmp_rec: Path
) -> None:
    assert record_until_interrupted(tmp_rec, args, banner) == 130  # 128 + SIGINT, as a shell
    info = json.loads(run_ttdbg(["info", "--json", str(tmp_rec)]).stdout)
    assert info["exit_signal"] == 2
    assert info["events_by_kind"]["SIGNAL"] == 1
    assert info["truncated"] is False
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.returncode == 130, rep.stderr  # the program's status, as record's
    assert rep.stdout == banner
    # The timeline ends where the signal ended the program, and it says so.
    rec = open_recording(str(tmp_rec))
    [sig] = [e for e in rec.events if e.kind.name == "SIGNAL"]
    tl = Timeline(rec)
    stop = tl.seek(rec.last_known_icount)
    assert isinstance(stop, EndOfHistory)
    assert stop.exit_signal == 2
    assert stop.icount == sig.icount
    tl.seek(sig.icount - 1)
    assert isinstance(tl.step(5), EndOfHistory)
    assert tl.position == sig.icount


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_a_handler_interrupting_fp_code_leaves_its_registers_alone(
    arch: str, tmp_rec: Path
) -> None:
    """The handler clobbers FP/vector registers; the frame must save and restore them."""
    program = BIN / "fpsignal" if arch == "x86_64" else BIN / arch / "fpsignal"
    assert record_until_interrupted(tmp_rec, [], b"looping\n", program) == 0
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == b"looping\nok\n"


def _interrupt_a_blocked_read(command: list[str]) -> bytes:
    """Start `command` blocked in read(), Ctrl-C it, then give it a line; its output."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        assert proc.stdout.readline() == b"reading\n"
        time.sleep(0.3)  # into the read() by now
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the handler ran; only then does input arrive
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(b"data\n")
            proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
        return out
    finally:
        proc.kill()


@pytest.mark.parametrize("mode", ["restart", "norestart"])
@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_sa_restart_resumes_an_interrupted_read(arch: str, mode: str, tmp_rec: Path) -> None:
    program = BIN / "restart" if arch == "x86_64" else BIN / arch / "restart"
    native_cmd = [str(program), mode]
    if arch != "x86_64":
        native_cmd = [require_tool(f"qemu-{arch}"), *native_cmd]
    native = _interrupt_a_blocked_read(native_cmd)
    expected = b"handled=2 read=5 \n" if mode == "restart" else b"handled=2 read=-1 "
    assert native.startswith(expected)
    ours = _interrupt_a_blocked_read(
        [sys.executable, "-m", "ttdbg", "record", "-o", str(tmp_rec), "--", str(program), mode]
    )
    assert ours == native
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == b"reading\n" + native
