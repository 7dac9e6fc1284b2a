"""Exact icount: N instructions in one go, in random chunks, or one by one reach one state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import unicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BIN, SAMPLES
from ttdbg.backend.arch import by_name
from ttdbg.backend.machine import Machine
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.snapshots.state import PageDigests

RECORDINGS = {
    name: open_recording(str(SAMPLES / f"{name}.ttrec"))
    for name in ("compute", "hello", "aarch64/hello", "riscv64/hello", "riscv64/walk")
}


def fingerprint(proc: GuestProcess[Any]) -> tuple[int, str]:
    state = proc.capture(0)
    return proc.machine.icount, PageDigests().state_hash(state)


def run_in_chunks(name: str, chunks: list[int]) -> tuple[int, str]:
    proc = new_replay_process(RECORDINGS[name])
    for n in chunks:
        proc.machine.run(n)
    return fingerprint(proc)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(RECORDINGS)),
    n=st.integers(0, 3000),
    data=st.data(),
)
def test_one_go_chunks_and_single_steps_agree(name: str, n: int, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=8)))
    chunks = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    whole = run_in_chunks(name, [n])
    assert whole[0] == n
    assert run_in_chunks(name, chunks) == whole
    assert run_in_chunks(name, [1] * n) == whole


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 3_000_000), data=st.data())
def test_long_runs_in_chunks_agree(n: int, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=20)))
    chunks = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    whole = run_in_chunks("compute", [n])
    assert whole[0] == n
    assert run_in_chunks("compute", chunks) == whole


def test_syscall_icounts_match_the_log() -> None:
    """Replaying by single steps meets every logged event at exactly its icount."""
    rec = RECORDINGS["hello"]
    proc = new_replay_process(rec)
    total = rec.last_known_icount
    while proc.machine.halted is None and proc.machine.icount < total:
        proc.machine.run(1)
    assert proc.platform.error is None
    assert proc.machine.icount == total
    assert proc.platform.exit_status == 0


def test_a_trapping_instruction_counts_once(tmp_path: Path) -> None:
    """int3 retires (it is a trap): the end of the recording is the instructions a
    per-instruction hook saw, no more."""
    path = tmp_path / "trap.ttrec"
    result = Recorder(str(BIN / "trap"), [b"trap"], [], str(path)).run()
    assert result.exit_signal == 5  # SIGTRAP
    rec = open_recording(str(path))
    proc = new_replay_process(rec)
    seen = [0]

    def count(_uc: unicorn.Uc, _addr: int, _size: int, _data: object) -> None:
        seen[0] += 1

    proc.machine.uc.hook_add(unicorn.UC_HOOK_CODE, count)
    proc.machine.uc.ctl_flush_tb()
    proc.machine.run(1000)
    assert rec.last_known_icount == seen[0] == proc.machine.icount


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(RECORDINGS)),
    runs=st.lists(st.sampled_from([1, 1, 1, 2, 3, 70, 500]), max_size=60),
)
def test_single_steps_between_long_runs_agree(name: str, runs: list[int]) -> None:
    """Blocks stay compiled with the step hook between steps; long runs in between (which
    put the plain blocks back) still reach the state of one run."""
    n = sum(runs)
    assert run_in_chunks(name, runs) == run_in_chunks(name, [n])


def test_single_steps_in_a_loop_do_not_retranslate_each_time() -> None:
    """gdb's stepi through a loop: each block is compiled with the step hook once, not
    on every step (that retranslation was most of a step's cost)."""
    proc = new_replay_process(RECORDINGS["compute"])
    m = proc.machine
    m.run(500_000)  # inside compute's main loop
    flushes = [0]
    uc = m.uc
    real = uc.ctl_remove_cache

    def counted(begin: int, end: int | None = None) -> None:
        flushes[0] += 1
        real(begin, end)

    uc.ctl_remove_cache = counted  # type: ignore[method-assign]
    pcs = set()
    for _ in range(2000):
        pcs.add(m.pc)
        m.run(1)
    assert m.icount == 502_000
    # Each place compiled with the hook at most twice (a block, and the one from mid-block
    # it may start), where before every one of the 2000 steps retranslated twice.
    assert flushes[0] <= 2 * len(pcs) < 200, (flushes[0], len(pcs))


# x86-64: rcx = 300; loop: add rax, rcx; dec rcx; jnz loop; then xor rax, rax; nop; nop.
LOOP = bytes.fromhex("48c7c12c0100004801c848ffc975f84831c09090")
CODE = 0x10000


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 950))
def test_counting_every_instruction_stops_where_unicorns_own_count_does(n: int) -> None:
    m = Machine(by_name("x86_64"))
    m.counter.count_every_instruction()
    oracle = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    for uc in (m.uc, oracle):
        uc.mem_map(CODE, 0x1000)
        uc.mem_write(CODE, LOOP)
    m.counter.steps = 0
    m.counter.step_limit = n
    m.uc.emu_start(CODE, CODE + len(LOOP))
    oracle.emu_start(CODE, CODE + len(LOOP), count=n)
    ran = min(n, 1 + 3 * 300 + 3)  # (past the code's end both stop there)
    assert m.counter.steps == ran
    regs = (unicorn.x86_const.UC_X86_REG_RIP, unicorn.x86_const.UC_X86_REG_RAX,
            unicorn.x86_const.UC_X86_REG_RCX)  # fmt: skip
    assert [m.uc.reg_read(r) for r in regs] == [oracle.reg_read(r) for r in regs]
