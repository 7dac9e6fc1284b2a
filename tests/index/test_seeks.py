"""Seek points: an index built with runs that stop every few instructions (inside loop blocks)
still equals the brute-force replay, and its saved states are the states a replay reaches,
so seeks from them are exact; a damaged one is set aside, not trusted."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.index.test_build import index_rows, truth_of
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.index.store import IndexStore
from ttdbg.snapshots.state import first_difference

SEEK_EVERY = 97  # stops inside blocks, in loops right after the same block ran


@pytest.mark.parametrize("name", ["walk", "aarch64/walk", "riscv64/walk"])
def test_stops_inside_blocks_change_nothing_and_seek_points_are_exact(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / "rec.ttrec"
    shutil.copyfile(SAMPLES / f"{name}.ttrec", path)
    build_index(str(path), runner=run_here, seek_every=SEEK_EVERY)
    truth = truth_of(name)
    writes, calls = index_rows(path)
    assert writes == sorted(truth.writes)
    assert calls == truth.calls
    rec = open_recording(str(path))
    fast, slow = Timeline(rec), Timeline(open_recording(str(path)))
    assert fast.index is not None
    snapshots = set(rec.snapshots.icounts)
    expected = [i for i in range(SEEK_EVERY, fast.end, SEEK_EVERY) if i not in snapshots]
    assert [fast.index.seeks.nearest(i) for i in expected] == expected
    assert len(fast.index.seeks) == len(expected)
    slow.index = None
    rng = random.Random(3)
    for target in sorted(rng.sample(range(fast.end), 40), key=lambda _: rng.random()):
        before = [i for i in expected if i <= target]
        assert fast.index.seeks.nearest(target) == (before[-1] if before else None)
        fast.seek(target)
        slow.seek(target)
        assert first_difference(slow._capture(), fast._capture()) is None, target
    assert not fast.index.seeks.broken


def test_a_damaged_seek_point_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "rec.ttrec"
    shutil.copyfile(SAMPLES / "walk.ttrec", path)
    build_index(str(path), runner=run_here, seek_every=500)
    store = IndexStore(str(path))
    victim = Path(store.file("seeks", 2))
    data = bytearray(victim.read_bytes())
    lo, _hi = store.check()["intervals"][2]
    # Flip bytes in the middle of the first state's data (uncompressed Parquet: it is there).
    middle = len(data) // 3
    data[middle : middle + 16] = bytes(b ^ 0x5A for b in data[middle : middle + 16])
    victim.write_bytes(bytes(data))
    rec = open_recording(str(path))
    fast, slow = Timeline(rec), Timeline(open_recording(str(path)))
    slow.index = None
    assert fast.index is not None
    for target in (lo + 700, lo + 1200, lo + 1900):
        fast.seek(target)
        slow.seek(target)
        assert first_difference(slow._capture(), fast._capture()) is None
    assert fast.index.seeks.broken
