"""The timeline against brute-force oracles: forward runs and per-instruction traces."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import unicorn
from elftools.elf.elffile import ELFFile

from tests.conftest import BIN, SAMPLES
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.stops import (
    BeginningOfHistory,
    BreakpointHit,
    EndOfHistory,
    Interrupted,
    Reached,
    ReplayBreakHit,
    WatchpointHit,
)
from ttdbg.backend.timeline import Timeline, TimelineError
from ttdbg.snapshots.state import PageDigests

ARCHES = ["x86_64", "aarch64", "riscv64"]


def binary(arch: str, name: str) -> Path:
    return BIN / name if arch == "x86_64" else BIN / arch / name


def record(tmp: Path, arch: str, name: str, every: int) -> Recording:
    path = tmp / f"{arch}-{name}.ttrec"
    prog = binary(arch, name)
    Recorder(str(prog), [name.encode()], [], str(path), snapshot_every=every).run()
    return open_recording(str(path))


@pytest.fixture(scope="module", params=ARCHES)
def overrun(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    # Many short snapshot intervals, so hits lie several intervals back.
    return record(tmp_path_factory.mktemp("tl"), request.param, "overrun", 3000)


@dataclass(frozen=True)
class Access:
    icount: int
    write: bool
    addr: int
    size: int


@dataclass
class Trace:
    pcs: list[int]  # pcs[i] is the instruction at icount i
    accesses: list[Access]
    reg: str  # a register that changes often (the third syscall argument)
    values: list[int]  # values[i] is `reg` before the instruction at icount i


def oracle_trace(rec: Recording) -> Trace:
    """Every instruction and memory access, counted by a plain per-instruction hook."""
    proc = new_replay_process(rec)
    uc = proc.machine.uc
    reg = rec.program.arch.syscall_abi.args[2]
    trace = Trace([], [], reg, [])

    def on_code(_uc: unicorn.Uc, addr: int, _size: int, _d: object) -> None:
        trace.pcs.append(addr)
        trace.values.append(proc.machine.reg(reg))

    def on_mem(_uc: unicorn.Uc, access: int, addr: int, size: int, _v: int, _d: object) -> None:
        write = access == unicorn.UC_MEM_WRITE
        trace.accesses.append(Access(len(trace.pcs) - 1, write, addr, size))

    uc.hook_add(unicorn.UC_HOOK_CODE, on_code)
    uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, on_mem)
    uc.ctl_flush_tb()
    proc.machine.run(rec.last_known_icount)
    assert len(trace.pcs) == rec.last_known_icount
    return trace


@pytest.fixture(scope="module")
def trace(overrun: Recording) -> Trace:
    return oracle_trace(overrun)


def fingerprint(rec: Recording, tl: Timeline) -> tuple[str, dict[str, int]]:
    state = tl.proc.capture(0)
    return PageDigests().state_hash(state), tl.registers()


def forward_fingerprint(rec: Recording, icount: int) -> tuple[str, dict[str, int]]:
    proc = new_replay_process(rec)
    proc.machine.run(icount)
    regs = {r.name: proc.machine.read_register(r) for r in proc.machine.arch.registers}
    return PageDigests().state_hash(proc.capture(0)), regs


def test_seek_and_reverse_step_equal_a_forward_run(overrun: Recording) -> None:
    rng = random.Random(7)
    tl = Timeline(overrun)
    end = overrun.last_known_icount
    for p in [0, 1, end - 1, *rng.sample(range(end), 12)]:
        stop = tl.seek(p)
        assert stop.icount == p
        assert fingerprint(overrun, tl) == forward_fingerprint(overrun, p)
        # From a later position, step back onto p.
        later = min(end - 1, p + rng.randint(1, 5000))
        tl.seek(later)
        tl.reverse_step(later - p)
        assert tl.position == p
        assert fingerprint(overrun, tl) == forward_fingerprint(overrun, p)


def test_seek_on_the_compute_sample_matches(tmp_path: Path) -> None:
    rec = open_recording(str(SAMPLES / "compute.ttrec"))
    tl = Timeline(rec)
    for p in (3_000_001, 61_234_567, 20_000_000):
        tl.seek(p)
        assert fingerprint(rec, tl) == forward_fingerprint(rec, p)
    for _ in range(3):
        tl.reverse_step()
    assert fingerprint(rec, tl) == forward_fingerprint(rec, 19_999_997)


def test_reverse_continue_to_breakpoints_matches_the_trace(
    overrun: Recording, trace: Trace
) -> None:
    rng = random.Random(11)
    tl = Timeline(overrun)
    end = overrun.last_known_icount
    executed = sorted(set(trace.pcs))
    for _ in range(12):
        bps = set(rng.sample(executed, rng.randint(1, 3)))
        for bp in bps:
            tl.add_breakpoint(bp)
        start = rng.randrange(end)
        tl.seek(start)
        hits = [i for i, pc in enumerate(trace.pcs) if pc in bps and i < start]
        stop = tl.reverse_continue()
        if hits:
            assert isinstance(stop, BreakpointHit), stop
            assert stop.icount == hits[-1]
            assert tl.pc == trace.pcs[hits[-1]]
        else:
            assert isinstance(stop, BeginningOfHistory)
            assert tl.position == 0
        # And forward: the first hit after the start (a breakpoint at the start is skipped).
        tl.seek(start)
        after = [i for i, pc in enumerate(trace.pcs) if pc in bps and i > start]
        stop = tl.continue_()
        if after:
            assert isinstance(stop, BreakpointHit)
            assert stop.icount == after[0]
        else:
            assert isinstance(stop, EndOfHistory)
        for bp in bps:
            tl.remove_breakpoint(bp)


def _overlaps(a: Access, addr: int, length: int) -> bool:
    return a.addr < addr + length and addr < a.addr + a.size


@pytest.mark.parametrize("kind", ["write", "read", "access"])
def test_reverse_continue_to_watchpoints_matches_the_trace(
    overrun: Recording, trace: Trace, kind: str
) -> None:
    rng = random.Random({"write": 1, "read": 2, "access": 3}[kind])
    tl = Timeline(overrun)
    end = overrun.last_known_icount
    wanted = [a for a in trace.accesses if kind == "access" or a.write == (kind == "write")]
    for _ in range(6):
        target = rng.choice(wanted)
        addr = target.addr + rng.randint(-3, target.size - 1)
        length = rng.randint(1, 12)
        tl.add_watchpoint(kind, addr, length)
        matching = [
            a.icount
            for a in trace.accesses
            if _overlaps(a, addr, length) and (kind == "access" or a.write == (kind == "write"))
        ]
        start = rng.randint(1, end - 1)
        tl.seek(start)
        before = [i for i in matching if i < start]
        stop = tl.reverse_continue()
        if before:
            assert isinstance(stop, WatchpointHit), stop
            # Backwards: on the access (x86-64), or just after it (AArch64, RISC-V).
            landing = before[-1] + (0 if overrun.program.arch.watchpoints_steppable else 1)
            assert stop.icount == landing
            assert stop.kind == kind
            assert tl.pc == trace.pcs[landing]
        else:
            assert isinstance(stop, BeginningOfHistory)
        tl.seek(start)
        steppable = overrun.program.arch.watchpoints_steppable
        # Going forwards, a steppable watchpoint (x86-64) stops after the access and a
        # non-steppable one (AArch64, RISC-V) on it; an access at the start itself is behind
        # us in the second case.
        after = [i for i in matching if (i >= start if steppable else i > start)]
        stop = tl.continue_()
        if after:
            assert isinstance(stop, WatchpointHit), stop
            assert stop.icount == after[0] + (1 if steppable else 0)
        else:
            assert isinstance(stop, EndOfHistory)
        tl.remove_watchpoint(kind, addr, length)


def test_register_change_searches_match_the_trace(overrun: Recording, trace: Trace) -> None:
    """Next/previous change of a register, against its value before every instruction."""
    rng = random.Random(5)
    tl = Timeline(overrun)
    v = trace.values
    writers = [i - 1 for i in range(1, len(v)) if v[i] != v[i - 1]]
    for start in [0, 1, *rng.sample(range(len(v)), 10)]:
        tl.seek(start)
        later = [w for w in writers if w + 1 > start]
        stop = tl.find_register_change(trace.reg, True)
        if later:
            assert stop.icount == later[0] + 1, (start, stop)
            assert tl.register(trace.reg) == v[later[0] + 1]
        else:
            assert isinstance(stop, EndOfHistory)
        tl.seek(start)
        earlier = [w for w in writers if w < start]
        stop = tl.find_register_change(trace.reg, False)
        if earlier:
            assert stop.icount == earlier[-1], (start, stop)
            assert tl.register(trace.reg) == v[earlier[-1]]  # before the change
        else:
            assert isinstance(stop, BeginningOfHistory)


def symbol(binary: Path, name: str) -> int:
    with binary.open("rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return int(sym["st_value"])


def test_who_corrupted_limit(overrun: Recording) -> None:
    """From the end, watch the corrupted global and go back to the store that did it."""
    tl = Timeline(overrun)
    arch = overrun.program.arch
    limit = symbol(binary(arch.name, "overrun"), "limit")
    fill_start = symbol(binary(arch.name, "overrun"), "fill")
    assert isinstance(tl.seek(overrun.last_known_icount), EndOfHistory)
    assert tl.read_memory(limit, 4) == (56).to_bytes(4, "little")
    tl.add_watchpoint("write", limit, 4)
    stop = tl.reverse_continue()
    assert isinstance(stop, WatchpointHit)
    assert stop.old == (100).to_bytes(4, "little")
    assert stop.new == (56).to_bytes(4, "little")
    if not arch.watchpoints_steppable:
        # gdb's non-steppable convention: we stop just after the store; one step back is it.
        assert tl.read_memory(limit, 4) == (56).to_bytes(4, "little")
        tl.reverse_step()
    # We stand on the overrunning store inside fill(), and it has not happened yet.
    assert fill_start <= tl.pc < fill_start + 0x60
    assert tl.read_memory(limit, 4) == (100).to_bytes(4, "little")
    tl.step()
    assert tl.read_memory(limit, 4) == (56).to_bytes(4, "little")


def test_both_ends_and_bad_requests(overrun: Recording) -> None:
    tl = Timeline(overrun)
    assert isinstance(tl.reverse_step(), BeginningOfHistory)
    assert isinstance(tl.reverse_continue(), BeginningOfHistory)
    stop = tl.seek(10**15)
    assert isinstance(stop, EndOfHistory)
    assert stop.exit_status == 1
    assert isinstance(tl.step(), EndOfHistory)
    assert isinstance(tl.continue_(), EndOfHistory)
    assert isinstance(tl.reverse_step(), Reached)
    with pytest.raises(TimelineError, match="not mapped"):
        tl.read_memory(0, 8)
    with pytest.raises(TimelineError):
        tl.seek(-1)
    # A watchpoint on unmapped memory never fires.
    tl.add_watchpoint("write", 0x10, 8)
    assert isinstance(tl.reverse_continue(), BeginningOfHistory)


def test_replay_breaks_and_named_states(overrun: Recording) -> None:
    tl = Timeline(overrun)
    first, second = overrun.last_known_icount // 3, overrun.last_known_icount // 2
    tl.add_replay_break(first)
    tl.add_replay_break(second)
    assert tl.continue_() == ReplayBreakHit(first)
    assert tl.continue_() == ReplayBreakHit(second)
    tl.save_named("here")
    assert tl.reverse_continue() == ReplayBreakHit(first)
    tl.seek(100)
    state_at_second = forward_fingerprint(overrun, second)
    tl.load_named("here")
    assert tl.position == second
    assert fingerprint(overrun, tl) == state_at_second
    with pytest.raises(TimelineError):
        tl.load_named("nowhere")


def test_changes_are_collected_for_the_engine_to_deliver(overrun: Recording) -> None:
    tl = Timeline(overrun)
    tl.step(10)
    tl.add_breakpoint(overrun.program.entry + 8)
    tl.add_watchpoint("write", overrun.program.entry, 4)
    seen = [(c.what, c.icount) for c in tl.take_changes()]
    assert seen == [("position", 10), ("breakpoints", 10), ("watchpoints", 10)]
    assert tl.take_changes() == []


def test_cancel_interrupts_a_long_reverse_continue_quickly() -> None:
    rec = open_recording(str(SAMPLES / "compute.ttrec"))
    tl = Timeline(rec)
    tl.seek(rec.last_known_icount)
    tl.add_breakpoint(0x1234)  # never executed: the scan must cross the whole recording
    token = CancelToken()
    cancelled_at: list[float] = []

    def progress(done: int, _to_go: int) -> None:
        if done > 5_000_000 and not cancelled_at:
            cancelled_at.append(time.perf_counter())
            token.cancel()

    stop = tl.reverse_continue(progress, token)
    returned = time.perf_counter()
    assert isinstance(stop, Interrupted)
    assert stop.icount == tl.position
    assert returned - cancelled_at[0] < 0.05
