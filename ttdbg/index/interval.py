"""Index one snapshot interval: replay it from its snapshot with the native recorder attached
and turn what it saw into Parquet files (as bytes, so any process can write them)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttdbg.backend.recording import Recording
from ttdbg.backend.replayer import new_replay_process, restore_replay_state
from ttdbg.errors import TtdbgError

from .native import NO_RETURN, IndexRecorder, Rows
from .schema import CALLS, PAGE_SHIFT, RETURNS, SUMMARY, WRITES

SLICE = 1 << 22  # instructions between looks at the cancel flag


class Cancelled(TtdbgError):
    """Indexing was cancelled; nothing of the interval was kept."""

    exit_status = 130


@dataclass(frozen=True)
class IntervalFiles:
    """One indexed interval: its Parquet files (table name -> file bytes) and row counts."""

    interval: int
    lo: int
    hi: int
    files: dict[str, bytes]
    writes: int
    calls: int


def intervals(rec: Recording) -> list[tuple[int, int]]:
    """The recording's snapshot intervals [lo, hi), the last one up to the end."""
    icounts = rec.snapshots.icounts
    end = rec.last_known_icount
    bounds = [*icounts, max(end, icounts[-1])]
    return list(itertools.pairwise(bounds))


def _u64(data: bytes) -> pa.Array:
    n = len(data) // 8
    return pa.Array.from_buffers(pa.uint64(), n, [None, pa.py_buffer(data)])


def _tables(rows: Rows) -> tuple[pa.Table, pa.Table, pa.Table, list[int]]:
    w = rows.writes
    writes = pa.Table.from_arrays(
        [
            _u64(w["icount"]).view(pa.int64()), _u64(w["pc"]), _u64(w["addr"]),
            _u64(w["size"]).cast(pa.uint8()), _u64(w["value"]),
        ],
        schema=WRITES,
    )  # fmt: skip
    c = rows.calls
    ret = _u64(c["return_icount"])
    seen = pc.not_equal(ret, pa.scalar(NO_RETURN, pa.uint64()))
    calls = pa.Table.from_arrays(
        [
            _u64(c["icount"]).view(pa.int64()), _u64(c["pc"]), _u64(c["target"]), _u64(c["sp"]),
            pc.if_else(seen, ret, None).cast(pa.int64()),
            pc.if_else(seen, _u64(c["retval"]), None),
            *(_u64(c[f"arg{i}"]) for i in range(4)),
        ],
        schema=CALLS,
    )  # fmt: skip
    r = rows.returns
    returns = pa.Table.from_arrays(
        [_u64(r["icount"]).view(pa.int64()), _u64(r["sp"]), _u64(r["retval"])], schema=RETURNS
    )
    icounts = calls.column("icount").to_pylist()
    open_calls = [icounts[row] for row in _u64(rows.open_calls).to_pylist()]
    return writes, calls, returns, open_calls


def _summary(
    interval: int, lo: int, hi: int, writes: pa.Table, calls: pa.Table, open_calls: list[int]
) -> pa.Table:
    addr = writes.column("addr")
    one, shift = pa.scalar(1, pa.uint64()), pa.scalar(PAGE_SHIFT, pa.uint64())
    last = pc.subtract(pc.add(addr, writes.column("size").cast(pa.uint64())), one)
    first_pages, last_pages = pc.shift_right(addr, shift), pc.shift_right(last, shift)
    pages = pc.unique(pa.chunked_array([*first_pages.chunks, *last_pages.chunks], pa.uint64()))
    functions = pc.unique(calls.column("target"))
    return pa.Table.from_pylist(
        [
            {
                "interval": interval, "lo": lo, "hi": hi,
                "writes": writes.num_rows, "calls": calls.num_rows,
                "pages": sorted(pages.to_pylist()),
                "functions": sorted(functions.to_pylist()),
                "open_calls": open_calls,
            }
        ],
        schema=SUMMARY,
    )  # fmt: skip


WRITES_ROW_GROUP = 1 << 16


def parquet_bytes(table: pa.Table, row_group_size: int = 1 << 20) -> bytes:
    """A table as Parquet: zstd, dictionaries for pcs and addresses, deltas for icounts."""
    sink = io.BytesIO()
    encodings = {
        name: "DELTA_BINARY_PACKED"
        for name in ("icount", "return_icount")
        if name in table.schema.names
    }
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=6,
        use_dictionary=[n for n in table.schema.names if n not in encodings],
        column_encoding=encodings or None,
        write_statistics=True,
        row_group_size=row_group_size,
    )
    return sink.getvalue()


def record_interval(
    rec: Recording, lo: int, hi: int, cancelled: Callable[[], bool] = lambda: False
) -> Rows:
    """Replay [lo, hi) from the snapshot at `lo` with the native recorder attached."""
    index = rec.snapshots.nearest(lo)
    if index is None or rec.snapshots.entries[index].icount != lo:
        raise TtdbgError(f"no snapshot at icount {lo} to index from")
    proc = new_replay_process(rec)
    restore_replay_state(proc, rec.snapshots.state(index), rec.exit_outcome())
    m, plat = proc.machine, proc.platform
    recorder = IndexRecorder(m)
    try:
        while m.icount < hi and m.halted is None:
            if cancelled():
                raise Cancelled("indexing cancelled")
            m.run(min(SLICE, hi - m.icount))
            recorder.flush()
            if plat.error is not None:
                raise TtdbgError(f"replay failed at icount {m.icount}: {plat.error}")
            if plat.end_of_log is not None:
                break
        return recorder.rows()
    finally:
        recorder.detach()


def index_interval(
    rec: Recording, interval: int, cancelled: Callable[[], bool] = lambda: False
) -> IntervalFiles:
    """The Parquet files of one interval of `rec`."""
    lo, hi = intervals(rec)[interval]
    writes, calls, returns, open_calls = _tables(record_interval(rec, lo, hi, cancelled))
    summary = _summary(interval, lo, hi, writes, calls, open_calls)
    # By address, then icount (a stable sort keeps an instruction's writes in their order):
    # the row groups' address ranges then let a lookup read only the groups that can match.
    by_address = writes.take(
        pc.sort_indices(writes, [("addr", "ascending"), ("icount", "ascending")])
    )
    files = {
        "writes": parquet_bytes(by_address, WRITES_ROW_GROUP),
        "calls": parquet_bytes(calls),
        "returns": parquet_bytes(returns),
        "summary": parquet_bytes(summary),
    }
    return IntervalFiles(interval, lo, hi, files, writes.num_rows, calls.num_rows)
