"""Building an index: every missing interval indexed in a local process pool (or on Ray), the
files written as they arrive, so an interrupted build leaves a usable partial index."""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

import pyarrow as pa

from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.recording import Recording, open_recording

from .interval import SEEK_EVERY, Cancelled, IntervalFiles, index_interval, intervals, parquet_bytes
from .native import release_spare_memory
from .schema import SYSCALLS
from .store import IndexStore

Progress = Callable[[int, int], None]  # (instructions indexed, instructions to index)


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    intervals: int  # in the recording
    indexed: int  # by this build
    reused: int  # already in the index
    instructions: int  # indexed by this build
    writes: int
    calls: int
    seconds: float
    cancelled: bool


def syscalls_table(rec: Recording) -> pa.Table:
    """The syscalls of the event log, with names from the recording's architecture."""
    names = rec.program.arch.syscall_names
    rows = [
        {
            "icount": ev.icount, "nr": ev.args[0],
            "name": names.get(ev.args[0], f"syscall_{ev.args[0]}"),
            "args": list(ev.args[1:]), "result": ev.result, "payload": ev.payload,
        }
        for ev in rec.events
        if ev.kind == EventKind.SYSCALL and ev.args
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=SYSCALLS)


# -- the worker side ------------------------------------------------------------------------

_cancel: multiprocessing.synchronize.Event | None = None
_open: dict[str, Recording] = {}


def _worker_init(cancel: multiprocessing.synchronize.Event) -> None:
    global _cancel
    _cancel = cancel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cancels through `cancel`


def _cancelled() -> bool:
    return _cancel is not None and _cancel.is_set()


def _recording(path: str) -> Recording:
    if path not in _open:
        _open.clear()
        _open[path] = open_recording(path)
    return _open[path]


def _pool_task(path: str, interval: int, seek_every: int) -> IntervalFiles | None:
    """Index one interval and store its files in the index here: the pool's workers share
    the parent's file system, and sending the files back cost the parent (the one serial part
    of a build) some 170 MB of pickling and writing on the compute sample."""
    try:
        done = index_interval(_recording(path), interval, _cancelled, seek_every)
    except Cancelled:
        return None
    IndexStore(path).write_interval(done.interval, done.files)
    return dataclasses.replace(done, files={}, stored=True)


# -- the parent side ------------------------------------------------------------------------


def _run_pool(
    path: str,
    todo: list[int],
    workers: int,
    cancel: multiprocessing.synchronize.Event,
    seek_every: int,
) -> Iterator[IntervalFiles]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, ctx, _worker_init, (cancel,)) as pool:
        pending: set[Future[IntervalFiles | None]] = {
            pool.submit(_pool_task, path, k, seek_every) for k in todo
        }
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    if result is not None:
                        yield result
        finally:
            cancel.set()
            for future in pending:
                future.cancel()


def run_here(
    path: str,
    todo: list[int],
    workers: int,
    cancel: multiprocessing.synchronize.Event,
    seek_every: int,
) -> Iterator[IntervalFiles]:
    """A runner for `build_index` that indexes in this process, one interval after another
    (no process start-up: for small recordings and tests)."""
    rec = open_recording(path)
    try:
        for k in todo:
            yield index_interval(rec, k, cancel.is_set, seek_every)
    except Cancelled:
        return
    finally:
        release_spare_memory()


# (recording path, intervals to index, workers, cancel flag, seek_every) -> indexed intervals
Runner = Callable[
    [str, list[int], int, "multiprocessing.synchronize.Event", int], Iterator[IntervalFiles]
]


def build_index(
    path: str,
    workers: int | None = None,
    runner: Runner | None = None,
    progress: Progress | None = None,
    only: list[int] | None = None,
    seek_every: int = SEEK_EVERY,
) -> BuildReport:
    """Index every interval of the recording at `path` that the index lacks (or only those
    listed in `only`), keeping a seek point every `seek_every` instructions (0: none).
    KeyboardInterrupt stops it; what was finished stays in the index."""
    began = time.perf_counter()
    rec = open_recording(path)
    spans = intervals(rec)
    store = IndexStore(path)
    store.start(rec.program.arch.name, spans)
    store.write_syscalls(parquet_bytes(syscalls_table(rec)))
    done = set(k for k in store.done() if store.verify(k))
    wanted = range(len(spans)) if only is None else [k for k in only if 0 <= k < len(spans)]
    todo = [k for k in wanted if k not in done]
    total = sum(spans[k][1] - spans[k][0] for k in todo)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    cancel = multiprocessing.get_context("spawn").Event()
    indexed = instructions = writes = calls = 0
    cancelled = False
    if progress is not None:
        progress(0, total)
    results = (runner or _run_pool)(path, todo, workers, cancel, seek_every)
    try:
        for result in results:
            if not result.stored:
                store.write_interval(result.interval, result.files)
            indexed += 1
            instructions += result.hi - result.lo
            writes += result.writes
            calls += result.calls
            if progress is not None:
                progress(instructions, total)
    except KeyboardInterrupt:
        cancel.set()
        cancelled = True
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    return BuildReport(
        len(spans), indexed, len(done & set(wanted)), instructions, writes, calls,
        time.perf_counter() - began, cancelled,
    )  # fmt: skip
