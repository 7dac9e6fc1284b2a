"""Finding writes through the index: the last write before a position (or the first after it)
that touches given address ranges, reading only the intervals whose pages say they might."""

from __future__ import annotations

import bisect
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ttdbg.backend.recording import Recording

from .schema import PAGE_SHIFT
from .store import IndexError_, IndexStore

log = logging.getLogger(__name__)

Range = tuple[int, int]  # (address, length)


@dataclass(frozen=True)
class WriteRow:
    """One guest write as the index holds it."""

    icount: int
    pc: int
    addr: int
    size: int
    value: int

    @property
    def data(self) -> bytes:
        return self.value.to_bytes(8, "little")[: self.size]

    def apply(self, buf: bytearray, base: int) -> None:
        """Write this write's bytes into `buf`, which holds memory from address `base`."""
        span = self.overlap(base, len(buf))
        if span is not None:
            lo, hi = span
            buf[lo - base : hi - base] = self.data[lo - self.addr : hi - self.addr]

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

    def __init__(self, store: IndexStore, cache_intervals: int = 4) -> None:
        self.store = store
        manifest = store.check()
        self.spans = [tuple(span) for span in manifest["intervals"]]
        self._lows = [lo for lo, _hi in self.spans]
        self._pages: dict[int, pa.Array] = {}
        for row in store.summaries().select(["interval", "pages"]).to_pylist():
            self._pages[row["interval"]] = set(row["pages"])
        self._tables: OrderedDict[int, pa.Table] = OrderedDict()
        self._cache_intervals = cache_intervals

    @property
    def complete(self) -> bool:
        return len(self._pages) == len(self.spans)

    def _interval_of(self, icount: int) -> int:
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

    def _writes(self, interval: int) -> pa.Table:
        table = self._tables.get(interval)
        if table is None:
            table = self.store.read_interval("writes", interval)
            self._tables[interval] = table
            while len(self._tables) > self._cache_intervals:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(interval)
        return table

    def _matches(self, interval: int, ranges: list[Range], lo: int, hi: int) -> pa.Table:
        """The writes of `interval` with lo <= icount < hi touching any range, in order."""
        table = self._writes(interval)
        icount, addr = table.column("icount"), table.column("addr")
        end = pc.add(addr, table.column("size").cast(pa.uint64()))
        touch = None
        for start, length in ranges:
            one = pc.and_(
                pc.less(addr, pa.scalar(start + length, pa.uint64())),
                pc.greater(end, pa.scalar(start, pa.uint64())),
            )
            touch = one if touch is None else pc.or_(touch, one)
        assert touch is not None
        window = pc.and_(
            pc.greater_equal(icount, pa.scalar(lo, pa.int64())),
            pc.less(icount, pa.scalar(hi, pa.int64())),
        )
        return table.filter(pc.and_(touch, window))

    def _found(self, interval: int, matches: pa.Table, index: int) -> Found:
        rows = matches.slice(index, 1).to_pylist()
        row = WriteRow(**rows[0])
        table = self._writes(interval)
        same = table.filter(pc.equal(table.column("icount"), pa.scalar(row.icount, pa.int64())))
        before: list[WriteRow] = []
        for other in same.to_pylist():
            candidate = WriteRow(**other)
            if candidate == row:
                break
            before.append(candidate)
        return Found(row, tuple(before))

    def last_before(self, ranges: list[Range], before: int, floor: int = 0) -> Found | None:
        """The last write touching `ranges` with floor <= icount < before; None when an
        interval on the way is not indexed (the caller must replay)."""
        if before <= floor:
            return Found(None)
        k = self._interval_of(before - 1)
        while k >= 0 and self.spans[k][1] > floor:
            if k not in self._pages:
                return None
            if self._touches(k, ranges):
                matches = self._matches(k, ranges, floor, before)
                if matches.num_rows:
                    return self._found(k, matches, matches.num_rows - 1)
            k -= 1
        return Found(None)

    def first_from(self, ranges: list[Range], start: int, limit: int) -> Found | None:
        """The first write touching `ranges` with start <= icount < limit; None when an
        interval on the way is not indexed."""
        if start >= limit:
            return Found(None)
        k = self._interval_of(start)
        while k < len(self.spans) and self.spans[k][0] < limit:
            if k not in self._pages:
                return None
            if self._touches(k, ranges):
                matches = self._matches(k, ranges, start, limit)
                if matches.num_rows:
                    return self._found(k, matches, 0)
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
    except IndexError_ as err:
        log.warning("not using the index: %s", err)
        return None
