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

from ttdbg.backend.linux.platform import LinuxPlatform
from ttdbg.backend.recording import Recording
from ttdbg.backend.replayer import new_replay_process, restore_replay_state
from ttdbg.backend.runoutcome import Why
from ttdbg.errors import TtdbgError
from ttdbg.snapshots.state import MachineState, PageDigests

from .native import CALL_ARG_NAMES, NO_RETURN, SIGNAL_CAUSE, IndexRecorder, Rows
from .schema import BLOCKS, CALLS, RETURNS, SEEKS, SUMMARY, WRITES

SLICE = 1 << 22  # instructions between looks at the cancel flag
# Instructions between seek points: a seek then replays at most this many from the nearest
# state (a few milliseconds) instead of up to a whole snapshot interval.
SEEK_EVERY = 1_000_000


class Cancelled(TtdbgError):
    """Indexing was cancelled; nothing of the interval was kept."""

    exit_status = 130


@dataclass(frozen=True)
class IntervalFiles:
    """One indexed interval: its Parquet files (table name -> file bytes) and row counts;
    `stored`: the files are in the index already (written by the worker that made them, and
    then not sent back: `files` is empty)."""

    interval: int
    lo: int
    hi: int
    files: dict[str, bytes]
    writes: int
    calls: int
    stored: bool = False


def intervals(rec: Recording) -> list[tuple[int, int]]:
    """The recording's snapshot intervals [lo, hi), the last one up to the end."""
    icounts = rec.snapshots.icounts
    end = rec.last_known_icount
    bounds = [*icounts, max(end, icounts[-1])]
    return list(itertools.pairwise(bounds))


def _valid_where(values: pa.Array, present: pa.Array, type_: pa.DataType) -> pa.Array:
    """`values` seen as `type_`, null where `present` (a boolean array without nulls) is
    false: the boolean's bits become the validity bitmap, nothing is copied."""
    if present.null_count or present.offset or values.offset:
        return pc.if_else(present, values.view(type_), None)
    bitmap = present.buffers()[1]
    return pa.Array.from_buffers(type_, len(values), [bitmap, values.buffers()[1]])


def _tables(rows: Rows) -> tuple[pa.Table, pa.Table, pa.Table, list[int]]:
    w = rows.writes
    icount = w["icount"].view(pa.int64())
    if rows.caused:
        cause = w["cause"].cast(pa.int64())  # below 2**33
        is_signal = pc.greater_equal(cause, SIGNAL_CAUSE)
        is_syscall = pc.and_(pc.not_equal(cause, 0), pc.invert(is_signal))
        syscall = pc.if_else(is_syscall, pc.subtract(cause, 1), None).cast(pa.int32())
        signal = pc.if_else(is_signal, pc.subtract(cause, SIGNAL_CAUSE), None).cast(pa.int32())
    else:
        syscall = signal = pa.nulls(len(icount), pa.int32())
    writes = pa.Table.from_arrays(
        [
            icount, w["pc"], w["addr"], w["size"].cast(pa.uint8(), safe=False), w["value"],
            syscall, w["value_hi"], signal,
        ],
        schema=WRITES,
    )  # fmt: skip
    c = rows.calls
    ret = c["return_icount"]
    seen = pc.not_equal(ret, pa.scalar(NO_RETURN, pa.uint64()))
    calls = pa.Table.from_arrays(
        [
            c["icount"].view(pa.int64()), c["pc"], c["target"], c["sp"],
            _valid_where(ret, seen, pa.int64()),
            _valid_where(c["retval"], seen, pa.uint64()),
            *(c[name] for name in CALL_ARG_NAMES),
            c["tid"].view(pa.int64()),
        ],
        schema=CALLS,
    )  # fmt: skip
    r = rows.returns
    returns = pa.Table.from_arrays(
        [r["icount"].view(pa.int64()), r["sp"], r["retval"], r["tid"].view(pa.int64())],
        schema=RETURNS,
    )
    # Gathered from every thread's shadow stack: in execution order again.
    open_calls = sorted(pc.take(calls.column("icount"), rows.open_calls).to_pylist())
    return writes, calls, returns, open_calls


@dataclass(frozen=True)
class SeekPoint:
    """A state inside an interval, encoded against the interval's snapshot."""

    icount: int
    state_hash: str
    data: bytes


def _summary(
    interval: int,
    lo: int,
    hi: int,
    writes: pa.Table,
    calls: pa.Table,
    pages: list[int],
    open_calls: list[int],
    seeks: list[SeekPoint],
) -> pa.Table:
    functions = pc.unique(calls.column("target"))
    return pa.Table.from_pylist(
        [
            {
                "interval": interval, "lo": lo, "hi": hi,
                "writes": writes.num_rows, "calls": calls.num_rows,
                "pages": pages,
                "functions": sorted(functions.to_pylist()),
                "open_calls": open_calls,
                "seeks": [p.icount for p in seeks],
            }
        ],
        schema=SUMMARY,
    )  # fmt: skip


# Rows per row group of a writes file: a lookup decodes whole groups (8K rows: ~0.5 ms each,
# against ~3 ms for 64K; the file grows ~3%).
WRITES_ROW_GROUP = 1 << 13


def seeks_parquet(seeks: list[SeekPoint]) -> bytes:
    """Seek points as Parquet, one row group each, stored as they are (already lz4)."""
    table = pa.Table.from_pylist(
        [{"icount": p.icount, "state_hash": p.state_hash, "data": p.data} for p in seeks],
        schema=SEEKS,
    )
    sink = io.BytesIO()
    pq.write_table(
        table, sink, compression="none", use_dictionary=False, row_group_size=1,
        write_statistics=["icount"],
    )  # fmt: skip
    return sink.getvalue()


# Columns stored as deltas: icounts rise, and the writes come sorted by address.
DELTA_COLUMNS = ("icount", "return_icount", "addr")
# Columns with a dictionary: few distinct values (pcs, sizes, call targets, the high halves of
# 16-byte stores) or many repeated ones (written values). Any other column is stored plain: a
# dictionary of values that seldom repeat (registers, stack pointers) only costs time.
DICTIONARY_COLUMNS = ("pc", "size", "target", "value", "value_hi")
# Columns whose row groups carry min/max statistics: the lookups skip row groups by address
# and icount, and a query filtering on them or on a call target can too.
STATISTICS_COLUMNS = ("icount", "addr", "target")


def parquet_bytes(table: pa.Table, row_group_size: int = 1 << 20) -> bytes:
    """A table as Parquet: lz4, deltas for icounts and sorted addresses, dictionaries for
    what repeats. lz4 rather than zstd: encoding was a quarter of an index build, zstd's share
    of it a third, for files some 5% smaller."""
    sink = io.BytesIO()
    names = table.schema.names
    encodings = {name: "DELTA_BINARY_PACKED" for name in DELTA_COLUMNS if name in names}
    dictionary = [n for n in DICTIONARY_COLUMNS if n in names]
    pq.write_table(
        table,
        sink,
        compression="lz4",
        use_dictionary=dictionary or False,
        column_encoding=encodings or None,
        write_statistics=[n for n in STATISTICS_COLUMNS if n in names] or False,
        row_group_size=row_group_size,
    )
    return sink.getvalue()


def record_interval(
    rec: Recording,
    lo: int,
    hi: int,
    cancelled: Callable[[], bool] = lambda: False,
    seek_every: int = SEEK_EVERY,
) -> tuple[Rows, list[SeekPoint], pa.Table]:
    """Replay [lo, hi) from the snapshot at `lo` with the native recorder attached, keeping a
    seek point at every multiple of `seek_every` inside the interval (0: none)."""
    index = rec.snapshots.nearest(lo)
    if index is None or rec.snapshots.entries[index].icount != lo:
        raise TtdbgError(f"no snapshot at icount {lo} to index from")
    proc = new_replay_process(rec)
    restore_replay_state(proc, rec.snapshots.state(index), rec.exit_outcome())
    m = proc.machine
    threads = proc.platform.threads if isinstance(proc.platform, LinuxPlatform) else None
    recorder = IndexRecorder(m, threads.current if threads else 0)
    if threads:
        threads.switch_listeners.append(recorder.switching)
    seeks: list[SeekPoint] = []
    digests = PageDigests(rec.snapshots.hash_version)
    previous: MachineState | None = None
    try:
        while m.icount < hi and m.halted is None:
            if cancelled():
                raise Cancelled("indexing cancelled")
            goal = min(hi, m.icount + SLICE)
            if seek_every:
                goal = min(goal, (m.icount // seek_every + 1) * seek_every)
            ran = proc.run(goal - m.icount)
            recorder.flush()
            if ran.failed:
                raise TtdbgError(f"replay failed at icount {ran.icount}: {ran.error}")
            if ran.why == Why.END_OF_LOG:
                break
            if seek_every and m.icount % seek_every == 0 and m.icount < hi and m.halted is None:
                previous = proc.capture(proc.inputs.log.cursor, previous)
                encoded = rec.snapshots.encode_against(previous, index, digests)
                seeks.append(SeekPoint(m.icount, encoded.state_hash, encoded.data))
        blocks = pa.table(
            {
                "addr": [b.addr for b, _crc in recorder.blocks],
                "size": [b.size for b, _crc in recorder.blocks],
                "crc32": [crc for _b, crc in recorder.blocks],
                "insns": [list(b.insns) for b, _crc in recorder.blocks],
            },
            schema=BLOCKS,
        )
        return recorder.rows(), seeks, blocks
    finally:
        recorder.detach()
        if threads:
            threads.switch_listeners.remove(recorder.switching)


def index_interval(
    rec: Recording,
    interval: int,
    cancelled: Callable[[], bool] = lambda: False,
    seek_every: int = SEEK_EVERY,
) -> IntervalFiles:
    """The Parquet files of one interval of `rec`."""
    lo, hi = intervals(rec)[interval]
    rows, seeks, blocks = record_interval(rec, lo, hi, cancelled, seek_every)
    writes, calls, returns, open_calls = _tables(rows)
    summary = _summary(interval, lo, hi, writes, calls, rows.pages, open_calls, seeks)
    # The writes come ordered by address, then execution order: the row groups' address
    # ranges let a lookup read only the groups that can match.
    files = {
        "writes": parquet_bytes(writes, WRITES_ROW_GROUP),
        "calls": parquet_bytes(calls),
        "returns": parquet_bytes(returns),
        "seeks": seeks_parquet(seeks),
        "blocks": parquet_bytes(blocks),
        "summary": parquet_bytes(summary),
    }
    return IntervalFiles(interval, lo, hi, files, writes.num_rows, calls.num_rows)
