"""The floating-point state a program starts with and keeps across signals is Linux's:
compared with the native run (x86-64) or qemu-user (AArch64, RISC-V 64)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_native, run_ttdbg
from tests.guest_programs import ARCHES, NOSTDLIB, build, native_command


def record_and_replay(program: Path, tmp_rec: Path) -> tuple[bytes, int]:
    """Record `program`, replay it with --verify; the output and status, checked equal."""
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--", str(program)], timeout=300)
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)], timeout=300)
    assert b"verified" in rep.stderr, rep.stderr
    assert rep.stdout == rec.stdout
    return rec.stdout, rec.returncode


@pytest.mark.parametrize("arch", ARCHES)
def test_fp_control_and_status_at_start_are_linuxs(arch: str, tmp_rec: Path) -> None:
    """Read in _start's first instructions: x86-64 FCW 037f, FSW 0, tags empty, MXCSR 1f80;
    AArch64 FPCR and FPSR 0; RISC-V fcsr 0."""
    program = build("fpinit", arch, NOSTDLIB)
    native = run_native(native_command(arch, program))
    assert native.returncode == 0, native.stderr
    assert record_and_replay(program, tmp_rec) == (native.stdout, 0)


@pytest.mark.parametrize("arch", ARCHES)
def test_fp_control_across_a_signal_handler(arch: str, tmp_rec: Path) -> None:
    """The handler starts with the FP control Linux gives it (x86-64: a fresh FPU state;
    AArch64, RISC-V: the interrupted code's) and rt_sigreturn restores main's."""
    program = build("fpsignal_state", arch)
    native = run_native(native_command(arch, program))
    assert b"(restored)" in native.stdout
    assert record_and_replay(program, tmp_rec) == (native.stdout, native.returncode)


@pytest.mark.parametrize("arch", ARCHES)
def test_long_double_cast_then_arithmetic_as_native(arch: str, tmp_rec: Path) -> None:
    """On x86-64 the cast reloads the x87 control word: with a wrong initial word, every later
    long double result loses precision (SQLite's avg() did)."""
    program = build("longdouble", arch)
    native = run_native(native_command(arch, program))
    assert native.returncode == 0, native.stderr
    assert record_and_replay(program, tmp_rec) == (native.stdout, 0)
