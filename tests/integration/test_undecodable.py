"""Programs that die on an instruction: one the disassembler cannot decode at the start of a
block (it used to stop in front of the block forever) and `__builtin_trap()` (x86-64's ud2
used to replay as a clean exit; RISC-V's ebreak gave SIGILL, not SIGTRAP). Record and replay
end with the signal the native run dies of, and the same output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import unicorn

from tests.conftest import run_ttdbg
from tests.guest_programs import build, native_command
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process

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


@pytest.mark.parametrize("arch", ["x86_64", "riscv64"])
def test_an_undecodable_instruction_after_others_in_its_block_is_not_counted(
    arch: str, tmp_path: Path
) -> None:
    """The emulator counts the undecodable instruction in its block (the count blocks are
    learned with as they are translated), capstone stops before it: the recording ends
    before it all the same, where a per-instruction hook saw every instruction but that one
    (on x86-64 the hook also runs before the one that raises: not counted here)."""
    program = build("undecodable_late", arch)
    rec = tmp_path / "late.ttrec"
    result = Recorder(str(program), [b"late"], [], str(rec)).run()
    assert result.exit_signal == 4  # SIGILL
    proc = new_replay_process(open_recording(str(rec)))
    seen: list[int] = []

    def count(_uc: unicorn.Uc, addr: int, _size: int, _data: object) -> None:
        seen.append(addr)

    proc.machine.uc.hook_add(unicorn.UC_HOOK_CODE, count)
    proc.machine.uc.ctl_flush_tb()
    proc.machine.run(result.icount + 1000)
    assert proc.machine.halted is not None
    fault = proc.machine.pc
    assert seen.count(fault) <= 1  # the undecodable instruction runs once, where it faults
    retired = sum(1 for addr in seen if addr != fault)
    assert result.icount == proc.machine.icount == retired


def _native_then_ttdbg(name: str, arch: str, tmp_path: Path) -> bytes:
    """Run program `name` natively, then record it and replay it with --verify: each ends
    well with the native output, which is returned."""
    program = build(name, arch)
    native = subprocess.run(native_command(arch, program), capture_output=True, timeout=60)
    assert native.returncode == 0, native
    rec = tmp_path / f"{name}.ttrec"
    recorded = run_ttdbg(["record", "-o", str(rec), "--", str(program)], timeout=60)
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stdout == native.stdout
    replayed = run_ttdbg(["replay", "--verify", str(rec)], timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == native.stdout
    return native.stdout


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_a_sigill_handler_sees_the_instruction_and_resumes_after_it(
    arch: str, tmp_path: Path
) -> None:
    """The signal's pc and si_addr are the illegal instruction's own address, as Linux gives
    them (Unicorn leaves RISC-V's pc 4 past it; si_addr was 0), so a handler that steps over
    it resumes where the native program does."""
    native = _native_then_ttdbg("sigill_resume", arch, tmp_path)
    assert native.count(b"at +0 from the instruction") == 2, native


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_fault_handlers_see_the_siginfo_linux_gives(arch: str, tmp_path: Path) -> None:
    """SIGSEGV (unmapped read, write and jump; write to read-only memory; jump into data),
    SIGBUS past a mapped file's end, SIGFPE and SIGTRAP reach an SA_SIGINFO handler with the
    si_code and si_addr the native run sees (si_addr was 0 and si_code SI_KERNEL for all)."""
    native = _native_then_ttdbg("fault_siginfo", arch, tmp_path)
    assert native.count(b"addr +0\n") >= 8, native
