"""Programs that die on an instruction: one the disassembler cannot decode at the start of a
block (it used to stop in front of the block forever) and `__builtin_trap()` (x86-64's ud2
used to replay as a clean exit; RISC-V's ebreak gave SIGILL, not SIGTRAP). Record and replay
end with the signal the native run dies of, and the same output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_ttdbg
from tests.guest_programs import build, native_command

CASES = [
    ("undecodable", "x86_64"),
    ("undecodable", "riscv64"),
    ("builtin_trap", "x86_64"),
    ("builtin_trap", "aarch64"),
    ("builtin_trap", "riscv64"),  # ebreak: SIGTRAP, though the emulator calls it undecodable
]


@pytest.mark.parametrize(("name", "arch"), CASES, ids=[f"{n}-{a}" for n, a in CASES])
def test_a_faulting_instruction_ends_record_and_replay_as_natively(
    name: str, arch: str, tmp_path: Path
) -> None:
    program = build(name, arch)
    native = subprocess.run(native_command(arch, program), capture_output=True, timeout=60)
    assert native.returncode < 0, native  # killed by a signal
    status = 128 - native.returncode  # as a shell reports it, and ttdbg does
    rec = tmp_path / f"{name}.ttrec"
    recorded = run_ttdbg(["record", "-o", str(rec), "--", str(program)], timeout=60)
    assert recorded.returncode == status, recorded.stderr
    assert recorded.stdout == native.stdout
    replayed = run_ttdbg(["replay", "--verify", str(rec)], timeout=60)
    assert replayed.returncode == status, replayed.stderr
    assert replayed.stdout == native.stdout
