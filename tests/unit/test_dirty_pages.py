"""Restores and captures that touch only the pages written since a known state (firmware
RAM): the memory they leave equals a full scan's, in any seek order, and code they rewrite
is retranslated."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from tests.forward_replay import forward
from ttdbg.backend.machine import Machine
from ttdbg.backend.machines import machine_spec
from ttdbg.backend.machines.recorder import FirmwareRecorder
from ttdbg.backend.machinestate import read_pages
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.snapshots.state import add_range, in_regions

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "sample_traces" / "firmware" / "riscv-virt" / "fw.elf"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty") / "fw.ttrec"
    FirmwareRecorder(
        str(FW), machine_spec("virt", "riscv64", None, None), str(out), None,
        console=lambda fd, data: None, snapshot_every=10_000, max_insns=60_000,
    ).run()  # fmt: skip
    return out


def full_scan(timeline: Timeline | Machine) -> dict[int, bytes]:
    """Every non-zero page, read from the emulator without the write tracker."""
    m = timeline.machine if isinstance(timeline, Timeline) else timeline
    dirty, m.dirty = m.dirty, None
    try:
        return read_pages(m)[1]
    finally:
        m.dirty = dirty


def brute_force(recording: Path, icount: int) -> tuple[dict[str, int], dict[int, bytes], object]:
    """Registers, memory and device state at `icount`, replayed forward from reset."""
    proc = forward(recording, icount)
    return proc.machine.register_file.read(), full_scan(proc.machine), proc.platform.to_state()


def test_tracked_memory_equals_full_scan_in_any_seek_order(recording: Path) -> None:
    timeline = Timeline(open_recording(str(recording)))
    assert timeline.machine.dirty is not None
    rng = random.Random(14)
    positions = [rng.randrange(timeline.end + 1) for _ in range(30)]
    for p in positions:
        timeline.seek(p)
        want = full_scan(forward(recording, p).machine)
        assert full_scan(timeline) == want, f"memory at icount {p} after a tracked restore"
        assert read_pages(timeline.machine)[1] == want, f"tracked capture at icount {p}"


def test_host_write_and_rewritten_code_are_restored(recording: Path) -> None:
    timeline = Timeline(open_recording(str(recording)))
    proc, m = timeline.proc, timeline.machine
    timeline.seek(20_000)
    state = proc.capture(proc.inputs.log.cursor)
    pc = m.pc
    # A host write (gdb, an exception frame pushed in Python) over the code about to run:
    # `nop`s, which the CPU then translates and runs.
    m.write(pc - pc % 0x1000, b"\x13\x00\x00\x00" * 0x400)
    proc.run(1)
    proc.restore(state)
    assert full_scan(timeline) == brute_force(recording, 20_000)[1]
    timeline.step(500)
    assert timeline.position == 20_500
    regs, memory, _devices = brute_force(recording, 20_500)
    assert m.register_file.read() == regs
    assert full_scan(timeline) == memory


def test_reverse_steps_equal_a_forward_replay(recording: Path) -> None:
    """Reverse-stepi restores states kept near the landing point (16 and 64 instructions
    back) and replays from them, across the timer interrupts of the sample's idle loop."""
    timeline = Timeline(open_recording(str(recording)))
    for target in (25_003, 47_771):
        timeline.seek(target)
        for back in range(1, 71):
            timeline.reverse_step()
            here = timeline.position
            assert here == target - back
            if back in (1, 2, 15, 16, 17, 63, 64, 65, 70):
                regs, memory, devices = brute_force(recording, here)
                m = timeline.machine
                assert m.register_file.read() == regs, f"registers at icount {here}"
                assert full_scan(timeline) == memory, f"memory at icount {here}"
                assert timeline.proc.platform.to_state() == devices, f"devices at {here}"


def test_restoring_data_beside_code_keeps_learned_code(recording: Path) -> None:
    """The sample's tick counter shares a page with its code: restores that rewrite that
    page keep the translated blocks and their counts (the code bytes are the same)."""
    timeline = Timeline(open_recording(str(recording)))
    counter = timeline.machine.counter
    timeline.seek(30_000)
    generation = counter.generation
    for p in (29_000, 31_000, 12_345, 30_000, 45_000, 29_999):
        timeline.seek(p)
    assert counter.generation == generation
    regs, memory, _devices = brute_force(recording, 29_999)
    assert timeline.machine.register_file.read() == regs
    assert full_scan(timeline) == memory


def test_forgotten_ranges_answer_as_a_brute_force_set() -> None:
    """Unmapped ranges in any order, overlapping, touching or nested, are kept sorted and
    merged, and membership equals a set of every address added."""
    rng = random.Random(7)
    for _trial in range(200):
        ranges: list[tuple[int, int]] = []
        covered: set[int] = set()
        for _ in range(rng.randrange(1, 12)):
            start = rng.randrange(0, 60)
            end = start + rng.randrange(1, 10)
            add_range(ranges, start, end)
            covered.update(range(start, end))
            assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges)), ranges
            assert all(lo < hi for lo, hi in ranges), ranges
            assert [a for a in range(-1, 80) if in_regions(ranges, a)] == sorted(covered)
