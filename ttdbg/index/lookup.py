"""Finding writes through the index: the last write before a position (or the first after it)
that touches given address ranges, reading only the intervals whose pages say they might."""

from __future__ import annotations

import bisect
import logging
import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttdbg.backend.recording import Recording

from .schema import PAGE_SHIFT, WRITES
from .seeks import SeekPoints
from .store import IndexStore, IndexUnusable

log = logging.getLogger(__name__)

Range = tuple[int, int]  # (address, length)
MAX_WRITE = 64  # the widest single write Unicorn reports (AVX-512 stores, x86 fxsave pieces)


@dataclass(frozen=True)
class WriteRow:
    """One guest write as the index holds it."""

    icount: int
    pc: int
    addr: int
    size: int
    value: int
    syscall: int | None = None  # the syscall that wrote, or None: an instruction's store
    value_hi: int = 0  # bytes 8..15 of a 16-byte store
    signal: int | None = None  # the signal whose frame this is, or None

    @property
    def data(self) -> bytes:
        return (self.value | self.value_hi << 64).to_bytes(16, "little")[: self.size]

    def apply(self, buf: bytearray, base: int) -> None:
        """Write this write's bytes into `buf`, which holds memory from address `base`."""
        span = self.overlap(base, len(buf))
        if span is not None:
            lo, hi = span
            buf[lo - base : hi - base] = self.data[lo - self.addr : hi - self.addr]

    def pieces(self) -> tuple[WriteRow, ...]:
        """A 16-byte store as the two 8-byte writes the emulator reports; others as they are."""
        if self.size <= 8:
            return (self,)
        low = WriteRow(self.icount, self.pc, self.addr, 8, self.value, self.syscall)
        high = WriteRow(self.icount, self.pc, self.addr + 8, 8, self.value_hi, self.syscall)
        return low, high

    def overlap(self, addr: int, length: int) -> tuple[int, int] | None:
        lo, hi = max(addr, self.addr), min(addr + length, self.addr + self.size)
        return (lo, hi) if lo < hi else None


@dataclass(frozen=True)
class Found:
    """The index's answer: the write (None: there is none in the range asked about) and the
    writes of the same instruction before it (an instruction may write more than once)."""

    row: WriteRow | None
    earlier_same_instruction: tuple[WriteRow, ...] = ()


class WriteIndex:
    """Write lookups over one recording's (complete or partial) index."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        manifest = store.check()
        self.spans = [tuple(span) for span in manifest["intervals"]]
        self._lows = [lo for lo, _hi in self.spans]
        self._pages: dict[int, set[int]] = {}
        self._group_stats: dict[int, list[tuple[int, int, int, int, int]]] = {}
        self._writes_files: dict[int, pq.ParquetFile] = {}  # opened once, footer parsed once
        summaries = store.summaries()
        for row in summaries.select(["interval", "pages"]).to_pylist():
            self._pages[row["interval"]] = set(row["pages"])
        self.seeks = SeekPoints(store, summaries)

    @property
    def complete(self) -> bool:
        return len(self._pages) == len(self.spans)

    def indexed(self, interval: int) -> bool:
        return interval in self._pages

    def interval_of(self, icount: int) -> int:
        """The interval holding `icount`."""
        return max(0, bisect.bisect_right(self._lows, icount) - 1)

    def _touches(self, interval: int, ranges: list[Range]) -> bool:
        pages = self._pages[interval]
        for addr, length in ranges:
            first, last = addr >> PAGE_SHIFT, (addr + length - 1) >> PAGE_SHIFT
            if last - first > 64:
                return True  # a wide range: just read the interval
            if any(p in pages for p in range(first, last + 1)):
                return True
        return False

    def _groups(self, interval: int) -> list[tuple[int, int, int, int, int]]:
        """(row group, lowest and highest address, lowest and highest icount) of an
        interval's writes file, from its footer (read once)."""
        groups = self._group_stats.get(interval)
        if groups is None:
            meta = self._writes_file(interval).metadata
            names = meta.schema.names
            addr, icount = names.index("addr"), names.index("icount")
            groups = []
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                a, i = group.column(addr).statistics, group.column(icount).statistics
                if a is None or i is None or not a.has_min_max or not i.has_min_max:
                    groups.append((g, 0, (1 << 64) - 1, -(1 << 63), (1 << 63) - 1))
                else:
                    groups.append((g, a.min, a.max, i.min, i.max))
            self._group_stats[interval] = groups
        return groups

    def _writes_file(self, interval: int) -> pq.ParquetFile:
        opened = self._writes_files.get(interval)
        if opened is None:
            opened = self._writes_files[interval] = self.store.parquet_file("writes", interval)
        return opened

    def _matches(
        self, interval: int, ranges: list[Range], lo: int, hi: int, syscalls: bool
    ) -> pa.Table:
        """The writes of `interval` with lo <= icount < hi touching any range (and made by
        instructions only, unless `syscalls`), in execution order. The file is sorted by
        address: only the row groups that can match are read."""
        wanted = [
            g
            for g, amin, amax, imin, imax in self._groups(interval)
            if imax >= lo
            and imin < hi
            # A write starting up to MAX_WRITE bytes below a range can reach into it.
            and any(amin < start + length and amax + MAX_WRITE > start for start, length in ranges)
        ]
        if not wanted:
            return WRITES.empty_table()
        table = self.store.read_row_groups("writes", interval, wanted, self._writes_file(interval))
        addr, icount = table.column("addr"), table.column("icount")
        end = pc.add(addr, table.column("size").cast(pa.uint64()))
        touch = None
        for start, length in ranges:
            one = pc.and_(
                pc.less(addr, pa.scalar(start + length, pa.uint64())),
                pc.greater(end, pa.scalar(start, pa.uint64())),
            )
            touch = one if touch is None else pc.or_(touch, one)
        window = pc.and_(
            pc.greater_equal(icount, pa.scalar(lo, pa.int64())),
            pc.less(icount, pa.scalar(hi, pa.int64())),
        )
        keep = pc.and_(touch, window)
        if not syscalls:  # nor signal frames: a watchpoint sees instructions' stores only
            keep = pc.and_(keep, pc.is_null(table.column("syscall")))
            keep = pc.and_(keep, pc.is_null(table.column("signal")))
        table = table.filter(keep)
        return table.take(pc.sort_indices(table, [("icount", "ascending")]))

    def _found(self, matches: pa.Table, index: int, ranges: list[Range]) -> Found:
        """Row `index` of `matches` as the emulator reported it (a 16-byte store as its two
        8-byte pieces, as a replayed watchpoint sees them), with the earlier matching writes of
        its instruction (the only ones that change the watched bytes it is compared with)."""
        rows = [
            piece
            for row in matches.to_pylist()
            for piece in WriteRow(**row).pieces()
            if any(piece.overlap(start, length) for start, length in ranges)
        ]
        row = rows[index]
        same = [r for r in rows[:index] if r.icount == row.icount]
        return Found(row, tuple(same))

    def last_before(
        self, ranges: list[Range], before: int, floor: int = 0, syscalls: bool = False
    ) -> Found | None:
        """The last write touching `ranges` with floor <= icount < before (by an instruction,
        or also by a syscall with `syscalls`); None when an interval on the way is not indexed
        (the caller must replay)."""
        if before <= floor:
            return Found(None)
        k = self.interval_of(before - 1)
        while k >= 0 and self.spans[k][1] > floor:
            if k not in self._pages:
                return None
            if self._touches(k, ranges):
                matches = self._matches(k, ranges, floor, before, syscalls)
                if matches.num_rows:
                    return self._found(matches, -1, ranges)
            k -= 1
        return Found(None)

    def first_from(
        self, ranges: list[Range], start: int, limit: int, syscalls: bool = False
    ) -> Found | None:
        """The first write touching `ranges` with start <= icount < limit (by an instruction,
        or also by a syscall with `syscalls`); None when an interval on the way is not
        indexed."""
        if start >= limit:
            return Found(None)
        k = self.interval_of(start)
        while k < len(self.spans) and self.spans[k][0] < limit:
            if k not in self._pages:
                return None
            if self._touches(k, ranges):
                matches = self._matches(k, ranges, start, limit, syscalls)
                if matches.num_rows:
                    return self._found(matches, 0, ranges)
            k += 1
        return Found(None)


def open_write_index(rec: Recording) -> WriteIndex | None:
    """The recording's index if it has a usable one; a stale or corrupt one is ignored (with
    a warning), and the engine replays as it would without."""
    store = IndexStore(rec.path)
    if not os.path.isdir(store.path):
        return None
    try:
        return WriteIndex(store)
    except IndexUnusable as err:
        log.warning("not using the index: %s", err)
        return None
