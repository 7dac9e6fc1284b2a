"""Index figures: indexing speed per worker against replay, the ceiling Unicorn's write hooks
put on it, scaling to 2 workers, bytes per write in Parquet, and `last` by index lookup
against the replay scan on a long recording."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import unicorn

from ttdbg.backend.nativelib import lib
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.replayer import new_replay_process, replay
from ttdbg.backend.runoutcome import Why
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index
from ttdbg.index.interval import index_interval, intervals, record_interval
from ttdbg.index.store import IndexStore
from ttdbg.symbols import Symbols


def _build(rec_path: Path, workers: int) -> float:
    shutil.rmtree(IndexStore(str(rec_path)).path, ignore_errors=True)
    start = time.perf_counter()
    report = build_index(str(rec_path), workers=workers)
    assert report.indexed == report.intervals
    return time.perf_counter() - start


def _replay_cpu(rec: Recording, write_hook: bool) -> float:
    """CPU seconds of a replay of the whole recording, with an empty native write hook
    attached or without."""
    proc = new_replay_process(rec)
    m = proc.machine
    if write_hook:
        m.counter.add_native_hook(unicorn.UC_HOOK_MEM_WRITE, lib.ix_empty_write_hook, None)
    end = rec.last_known_icount
    cpu = time.process_time()
    while m.icount < end and m.halted is None:
        ran = proc.run(end - m.icount)
        assert not ran.failed, ran.error
        if ran.why == Why.END_OF_LOG:
            break
    return time.process_time() - cpu


def hook_ceiling(rec: Recording, repeats: int = 3) -> float:
    """The ratio of plain replay to replay with a write hook that does nothing, in CPU time
    (median of alternated pairs): the most an index that hooks writes can reach in Unicorn,
    which sends every load and store down its slow path once any memory hook exists."""
    ratios = [_replay_cpu(rec, False) / _replay_cpu(rec, True) for _ in range(repeats)]
    return statistics.median(ratios)


def index_figures(rec_path: Path, replay_s: float | None = None) -> dict[str, Any]:
    """Figures for the compute recording at `rec_path` (copied; the original is untouched)."""
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-index-bench-"))
    path = tmp / "rec.ttrec"
    shutil.copyfile(rec_path, path)
    rec = open_recording(str(path))
    icount = rec.last_known_icount
    # CPU time as well as wall time: on a loaded machine the wall clock measures the load.
    start, cpu = time.perf_counter(), time.process_time()
    replay(rec)
    replay_cpu = time.process_time() - cpu
    if replay_s is None:
        replay_s = time.perf_counter() - start
    # One worker, in this process: the per-worker rate without process start-up.
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(len(intervals(rec))):
        index_interval(rec, k)
    worker_s = time.perf_counter() - start
    worker_cpu = time.process_time() - cpu
    # What collecting the rows costs before anything is stored: the native recorder on every
    # interval and the sort of its writes, without seek points, Arrow tables or Parquet.
    cpu = time.process_time()
    for lo, hi in intervals(rec):
        record_interval(rec, lo, hi, seek_every=0)
    collect_cpu = time.process_time() - cpu
    ceiling = hook_ceiling(rec)
    one_s = _build(path, 1)
    two_s = _build(path, 2)
    store = IndexStore(str(path))
    writes = sum(
        int(store.read_interval("summary", k).column("writes")[0].as_py()) for k in store.done()
    )
    write_bytes = sum(os.path.getsize(store.file("writes", k)) for k in store.done())
    shutil.rmtree(tmp, ignore_errors=True)
    mips = icount / worker_s / 1e6
    return {
        "index_mips": round(mips, 1),
        "index_replay_ratio": round(replay_s / worker_s, 3),
        "index_replay_ratio_cpu": round(replay_cpu / worker_cpu, 3),
        "index_collect_ratio_cpu": round(replay_cpu / collect_cpu, 3),
        "index_hook_ceiling_ratio": round(ceiling, 3),
        "index_scaling_2w": round(one_s / two_s, 2),
        "index_1w_seconds": round(one_s, 2),
        "index_2w_seconds": round(two_s, 2),
        "index_writes": writes,
        "index_bytes_per_write": round(write_bytes / max(1, writes), 2),
    }


def last_write_figures(rec_path: Path, workers: int = 2) -> dict[str, Any]:
    """`last` on a long recording (copied, then indexed): the write that gave a byte written
    once, early, its value, by index lookup and exact seek, against the replay scan back
    through the whole run. Both answers must be the same stop."""
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-index-bench-"))
    path = tmp / "rec.ttrec"
    shutil.copyfile(rec_path, path)
    rec = open_recording(str(path))
    icount = rec.last_known_icount
    build_s = _build(path, workers)
    store = IndexStore(str(path))
    seek_bytes = sum(os.path.getsize(store.file("seeks", k)) for k in store.done())
    syms = Symbols(rec.program_image, rec.program.load_bias)
    target = syms.by_name["composite"].addr + 4
    indexed = Timeline(open_recording(str(path)))
    assert indexed.index is not None
    indexed.seek(icount)
    start = time.perf_counter()
    found = indexed.index.last_before([(target, 1)], icount)
    lookup_ms = (time.perf_counter() - start) * 1000
    assert found is not None
    assert found.row is not None
    start, cpu = time.perf_counter(), time.process_time()
    hit = indexed.last_write(target, 1)  # the lookup again, then the exact seek there
    last_ms = (time.perf_counter() - start) * 1000
    last_cpu_ms = (time.process_time() - cpu) * 1000
    scan = Timeline(open_recording(str(path)))
    scan.index = None
    scan.seek(icount)
    start = time.perf_counter()
    hit_scan = scan.last_write(target, 1)
    scan_ms = (time.perf_counter() - start) * 1000
    assert hit is not None
    assert hit == hit_scan, (hit, hit_scan)
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "last_write_recording_icount": icount,
        "last_write_index_seconds": round(build_s, 1),
        "last_write_index_workers": workers,
        "last_write_seek_point_bytes": seek_bytes,
        "last_write_icount": hit.icount,
        "last_write_lookup_ms": round(lookup_ms, 1),
        "last_write_ms": round(last_ms, 1),
        "last_write_cpu_ms": round(last_cpu_ms, 1),
        "last_write_scan_ms": round(scan_ms, 1),
    }
