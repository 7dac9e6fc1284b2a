"""Linux captures and restores that touch only the pages written since a known state (the
TLB-filled page set): a threaded program that maps, guards, zeroes and unmaps 40 thread
stacks, checked against one forward replay from icount 0 that restores nothing, reads all
of memory and runs on Unicorn's own TLB without any tracker."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import unicorn

from tests.threads.build import build
from ttdbg.backend.linux.memory import MAP_ANONYMOUS, MAP_FIXED
from ttdbg.backend.machine import Machine
from ttdbg.backend.machinestate import read_pages
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.timeline import Timeline
from ttdbg.pages import PAGE, PERM_W

Memory = tuple[dict[str, int], tuple[tuple[int, int, int], ...], dict[int, bytes]]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    program = build("pthreads.c")
    out = tmp_path_factory.mktemp("dirty-linux") / "join.ttrec"
    argv = [str(program).encode(), b"join"]
    Recorder(str(program), argv, [], str(out), snapshot_every=4_000).run()
    return out


def full_scan(m: Machine) -> tuple[tuple[tuple[int, int, int], ...], dict[int, bytes]]:
    """The memory map and every non-zero page, read from the emulator without the tracker."""
    dirty, m.dirty = m.dirty, None
    try:
        return read_pages(m)
    finally:
        m.dirty = dirty


def forward_oracle(path: Path, icounts: list[int]) -> dict[int, Memory]:
    """Registers, memory map and memory at each of `icounts`, from one untracked forward
    replay from icount 0."""
    proc = new_replay_process(open_recording(str(path)))
    m = proc.machine
    m.dirty = None
    m.uc.ctl_set_tlb_mode(unicorn.UC_TLB_CPU)
    m.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)
    found: dict[int, Memory] = {}
    for icount in sorted(set(icounts)):
        proc.run(icount - m.icount)
        assert m.icount == icount
        found[icount] = (m.register_file.read(), *full_scan(m))
    return found


def test_recorded_snapshots_equal_an_untracked_forward_replay(recording: Path) -> None:
    """Every snapshot record captured through the tracker holds what the guest's memory
    really was (mmaps, mprotect splits, madvise and munmap of stacks in between)."""
    snapshots = open_recording(str(recording)).snapshots
    assert len(snapshots) >= 15
    oracle = forward_oracle(recording, snapshots.icounts)
    for index, icount in enumerate(snapshots.icounts):
        state = snapshots.state(index)
        regs, regions, pages = oracle[icount]
        assert state.regions == regions, f"memory map of the snapshot at icount {icount}"
        assert state.pages == pages, f"memory of the snapshot at icount {icount}"
        assert {k: state.registers[k] for k in regs} == regs, f"registers at icount {icount}"


def test_tracked_seeks_equal_an_untracked_forward_replay(recording: Path) -> None:
    """Seeks in any order restore only pages the tracker names (and those that differ between
    states); memory after each, and a tracked capture of it, equal the forward replay's."""
    timeline = Timeline(open_recording(str(recording)))
    m = timeline.machine
    assert m.dirty is not None
    assert m.dirty.follows_map_changes
    rng = random.Random(11)
    positions = [rng.randrange(timeline.end + 1) for _ in range(24)]
    oracle = forward_oracle(recording, positions)
    for p in positions:
        timeline.seek(p)
        regs, regions, pages = oracle[p]
        here: Any = full_scan(m)
        assert here == (regions, pages), f"memory at icount {p} after a tracked restore"
        assert read_pages(m) == (regions, pages), f"tracked capture at icount {p}"
        assert m.register_file.read() == regs, f"registers at icount {p}"


def test_a_range_unmapped_and_mapped_again_is_zero(recording: Path) -> None:
    """munmap then mmap of the same page between two captures: the new page is zero, though
    the map looks as before and the guest never wrote it; a restore over it is exact."""
    timeline = Timeline(open_recording(str(recording)))
    proc, m = timeline.proc, timeline.machine
    timeline.seek(timeline.end // 2)
    before = proc.capture(proc.inputs.log.cursor)  # the tracker's base from here on
    writable = [(b, e) for b, e, perms in before.regions if perms & PERM_W]
    page = next(a for a in sorted(before.pages) if any(b <= a < e for b, e in writable))
    mem = proc.platform.mem
    assert mem.do_munmap(page, PAGE) == 0
    assert mem.do_mmap(page, PAGE, 3, MAP_FIXED | MAP_ANONYMOUS) == page
    assert read_pages(m) == full_scan(m)
    assert page not in read_pages(m)[1]
    assert mem.do_munmap(page, PAGE) == 0
    assert mem.do_mmap(page, PAGE, 3, MAP_FIXED | MAP_ANONYMOUS) == page
    proc.restore(before)
    assert full_scan(m) == (before.regions, before.pages)
