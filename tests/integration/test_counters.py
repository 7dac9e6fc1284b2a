"""CPU time counters read without a syscall (rdtsc, cntvct_el0, rdtime...) are inputs: logged
while recording, fed back in replay, the same at every position the timeline rebuilds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_native, run_ttdbg
from tests.guest_programs import ARCHES, build, native_command
from ttdbg.backend.arch.counters import Counter
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.timeline import Timeline
from ttdbg.snapshots.state import PageDigests


def lines(output: bytes, *prefixes: str) -> list[str]:
    return [x for x in output.decode().splitlines() if x.startswith(prefixes)]


@pytest.mark.parametrize("arch", ARCHES)
def test_counter_reads_are_recorded_and_replayed(arch: str, tmp_path: Path) -> None:
    """The program spins and branches on the counter: replay must print the recorded bytes."""
    program = build("counters", arch)
    native = run_native(native_command(arch, program))
    assert native.returncode == 0, native.stderr
    assert lines(native.stdout, "order") == ["order: never backwards"]
    first, second = tmp_path / "1.ttrec", tmp_path / "2.ttrec"
    rec = run_ttdbg(["record", "-o", str(first), "--", str(program)])
    assert rec.returncode == 0, rec.stderr
    assert lines(rec.stdout, "order") == ["order: never backwards"]
    assert lines(rec.stdout, "other") != []
    if arch == "aarch64":  # cntfrq_el0: the rate the counter is recorded at, as qemu-user's
        assert lines(rec.stdout, "other") == lines(native.stdout, "other") == ["other: 62500000"]
    # Values come from the host's clock: another recording reads others...
    again = run_ttdbg(["record", "-o", str(second), "--", str(program)])
    assert lines(again.stdout, "read") != lines(rec.stdout, "read")
    # ...and replay, whenever it runs, reads the recorded ones.
    for _ in range(2):
        rep = run_ttdbg(["replay", "--verify", str(first)])
        assert rep.returncode == 0, rep.stderr
        assert b"verified" in rep.stderr
        assert rep.stdout == rec.stdout
    info = json.loads(run_ttdbg(["info", "--json", str(first)]).stdout)
    assert info["events_by_kind"]["COUNTER"] >= 8


def state(where: GuestProcess[Any] | Timeline) -> tuple[str, dict[str, int]]:
    """The state hash and every register of a process, or of a timeline's."""
    proc = where.proc if isinstance(where, Timeline) else where
    regs = {r.name: proc.machine.read_register(r) for r in proc.machine.arch.registers}
    return PageDigests().state_hash(proc.capture(0)), regs


@pytest.mark.parametrize("arch", ARCHES)
def test_every_position_around_a_read_is_rebuilt_exactly(arch: str, tmp_path: Path) -> None:
    """Runs that stop just before, on and just after each read (the value is written once
    the read has run), single steps, and timeline seeks backwards from later snapshots all
    reach the state of one forward run."""
    path = tmp_path / "c.ttrec"
    program = build("counters", arch)
    assert run_ttdbg(["record", "--snapshot-every", "700", "-o", str(path), "--", str(program)])
    rec = open_recording(str(path))
    reads = [e.icount for e in rec.events if e.kind == EventKind.COUNTER]
    assert len(reads) >= 8
    tl = Timeline(rec)
    for at in [*reads[:4], reads[-1]]:
        stepped = new_replay_process(rec)
        stepped.machine.run(at - 1)
        for pos in range(at - 1, at + 3):
            forward = new_replay_process(rec)
            forward.machine.run(pos)
            assert stepped.machine.icount == pos
            assert state(stepped) == state(forward), (at, pos)
            tl.seek(pos + 5000)
            tl.seek(pos)
            assert state(tl) == state(forward), (at, pos)
            stepped.machine.run(1)


READ_SIZE = {Counter.TSC: 2, Counter.TSCP: 3}  # x86; mrs and csrr are 4


@pytest.mark.parametrize("arch", ARCHES)
def test_breakpoints_after_reads_stop_on_the_recorded_values(arch: str, tmp_path: Path) -> None:
    """A breakpoint on the instruction after the first read, continued to from a fresh
    timeline (its blocks, and so the read's hook, are learned during the armed run), and one
    after the last read, reverse-continued to: the state there is the forward run's."""
    path = tmp_path / "c.ttrec"
    program = build("counters", arch)
    assert run_ttdbg(["record", "--snapshot-every", "700", "-o", str(path), "--", str(program)])
    rec = open_recording(str(path))
    reads = [e for e in rec.events if e.kind == EventKind.COUNTER]
    for ev, backwards in ((reads[0], False), (reads[-1], True)):
        after = ev.args[1] + READ_SIZE.get(ev.args[0], 4)
        forward = new_replay_process(rec)
        forward.machine.run(ev.icount + 1)
        assert forward.machine.pc == after
        tl = Timeline(rec)
        tl.add_breakpoint(after)
        if backwards:
            tl.seek(rec.last_known_icount)
            assert tl.reverse_continue().icount == ev.icount + 1
        else:
            assert tl.continue_().icount == ev.icount + 1
        assert state(tl) == state(forward)


def test_aarch64_physical_counter_is_sigill_as_on_linux(tmp_rec: Path) -> None:
    """Linux gives EL0 the virtual counter only; cntpct_el0 traps (qemu-user agrees)."""
    program = build("cntpct", "aarch64")
    native = run_native(native_command("aarch64", program))
    assert native.stdout == b"reading\nSIGILL\n"
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--", str(program)])
    assert (rec.stdout, rec.returncode) == (native.stdout, native.returncode)
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert (rep.stdout, rep.returncode) == (native.stdout, native.returncode)
