"""Guest regions backed by host memory ttdbg allocates, so Unicorn splits them in place.

Unicorn splits a region it allocated itself (to protect or unmap part of it) by copying the
whole region into fresh memory: every mprotect of a library's RELRO, every MAP_FIXED segment
the dynamic loader maps over its reservation, copied and faulted in the whole library again.
A region mapped with `mem_map_ptr` is split by pointing its pieces into the same host memory,
which costs only bookkeeping. The host memory of such a region must outlive every piece of it
Unicorn still maps; `release` gives back only what no region covers.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import mmap
from collections.abc import Callable
from dataclasses import dataclass

import unicorn

_HOST_PAGE = mmap.PAGESIZE
_ABOVE = 1 << 65  # past every guest address: [start, _ABOVE] sorts after any [start, end]
_libc = ctypes.CDLL(None)
_libc.memcmp.restype = ctypes.c_int
_libc.memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]


@dataclass
class _Block:
    """One host allocation, shown to the guest at [start, end)."""

    start: int
    end: int
    memory: mmap.mmap
    pin: ctypes.c_char  # the exported view whose address Unicorn holds; keeps `memory` open


def uncovered(start: int, end: int, regions: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) no region of the (sorted, disjoint) list covers."""
    gaps = []
    at = start
    # From the last region starting before `start` (the first that can reach into it).
    first = max(bisect.bisect_right(regions, (start,)) - 1, 0)
    for lo, hi, _perms in itertools.islice(regions, first, None):
        if hi <= at:
            continue
        if lo >= end:
            break
        if lo > at:
            gaps.append((at, lo))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        gaps.append((at, end))
    return gaps


def cut(ranges: list[list[int]], start: int, end: int) -> list[list[int]]:
    """`ranges` without [start, end), keeping the parts around it."""
    kept: list[list[int]] = []
    for lo, hi in ranges:
        if hi <= start or lo >= end:
            kept.append([lo, hi])
            continue
        if lo < start:
            kept.append([lo, start])
        if hi > end:
            kept.append([end, hi])
    return kept


def _touched(start: int, end: int, regions: list[tuple[int, int, int]]) -> bool:
    """Whether any region of the (sorted, disjoint) list covers part of [start, end): the last
    one starting before `end` reaches past `start`."""
    last = bisect.bisect_left(regions, (end,)) - 1
    return last >= 0 and regions[last][1] > start


def _cut_sorted(ranges: list[list[int]], start: int, end: int) -> list[list[int]]:
    """`cut` for sorted, disjoint `ranges`: only those that can overlap [start, end) looked at."""
    first = max(bisect.bisect_right(ranges, [start]) - 1, 0)
    last = bisect.bisect_left(ranges, [end], first)
    return [*ranges[:first], *cut(ranges[first:last], start, end), *ranges[last:]]


class HostMemory:
    """The host allocations behind guest regions, and which guest ranges they back now."""

    def __init__(self, uc: unicorn.Uc, regions: Callable[[], list[tuple[int, int, int]]]) -> None:
        self._uc = uc
        self._regions = regions  # the guest's map now, sorted (Machine.regions)
        self._blocks: list[_Block] = []
        # After a restore (`reset`): blocks may back nothing any more; they are given back
        # at the next map, release or count, not on every restore.
        self._stale = False
        # Guest ranges mapped from the blocks, as [start, end), sorted and disjoint. Knowing
        # them exactly matters only for speed: a range wrongly taken as backed is split by
        # Unicorn's copy, one wrongly taken as not backed by the caller's own split.
        self.backed: list[list[int]] = []

    def map(self, start: int, length: int, perms: int) -> None:
        """Map [start, start + length) as zero pages the host allocates on first touch."""
        if self._stale:
            self._prune(self._regions())
        try:
            memory = mmap.mmap(-1, length, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        except OSError:
            # What Unicorn's own allocation raises when the host refuses the size.
            raise unicorn.UcError(unicorn.UC_ERR_NOMEM) from None
        pin = ctypes.c_char.from_buffer(memory)
        self._uc.mem_map_ptr(start, length, perms, ctypes.addressof(pin))
        self._blocks.append(_Block(start, start + length, memory, pin))
        end = start + length
        self.backed = _cut_sorted(self.backed, start, end)
        bisect.insort(self.backed, [start, end])

    def holds(self, start: int, end: int, data: bytes, offset: int) -> bool:
        """Whether guest [start, end), backed here, holds `data` from `offset` on, with zeros
        where `data` ends first; compared in place, nothing copied."""
        if not self.backs(start, end):
            return False
        # The newest block with the range backs it: older ones were given back under it.
        block = next(b for b in reversed(self._blocks) if b.start <= start and end <= b.end)
        host = ctypes.addressof(block.pin) + start - block.start
        length = max(0, min(end - start, len(data) - offset))
        source = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        if length and _libc.memcmp(host, source + offset, length) != 0:
            return False
        tail = end - start - length
        return not tail or ctypes.string_at(host + length, tail) == bytes(tail)

    def backs(self, start: int, end: int) -> bool:
        """Whether [start, end) lies wholly in one backed range."""
        # (Sorted and disjoint: only the last range starting at or before `start` can.)
        at = bisect.bisect_right(self.backed, [start, _ABOVE]) - 1
        return at >= 0 and self.backed[at][1] >= end

    def release(self, start: int, end: int, regions: list[tuple[int, int, int]]) -> None:
        """After [start, end) was unmapped: give back the host memory behind it wherever no
        region (`regions`, sorted, as Machine.regions gives them) covers it. Any region that
        uses a block lies inside the block's guest range, so a page no region covers is one
        Unicorn no longer reads."""
        self.backed = _cut_sorted(self.backed, start, end)
        if self._stale:
            self._prune(regions)
        kept = []
        for block in self._blocks:
            if block.end <= start or block.start >= end:
                kept.append(block)
                continue
            if _touched(block.start, block.end, regions):
                kept.append(block)
                for lo, hi in uncovered(max(start, block.start), min(end, block.end), regions):
                    # Whole host pages only (a host's pages may be larger than the guest's).
                    lo = -(-(lo - block.start) // _HOST_PAGE) * _HOST_PAGE
                    hi = (hi - block.start) // _HOST_PAGE * _HOST_PAGE
                    if lo < hi:
                        block.memory.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        self._blocks = kept

    def reset(self) -> None:
        """After the map was replaced from a snapshot: regions it mapped anew are Unicorn's
        own, so none is taken as backed; blocks no region covers any more are given back
        (later: a reverse step restores far more often than the guest maps)."""
        self.backed = []
        self._stale = True

    def _prune(self, regions: list[tuple[int, int, int]]) -> None:
        """Give back the blocks no region covers any more."""
        self._blocks = [b for b in self._blocks if _touched(b.start, b.end, regions)]
        self._stale = False

    @property
    def host_bytes(self) -> int:
        """The size of the host allocations held (touched or not)."""
        if self._stale:
            self._prune(self._regions())
        return sum(b.end - b.start for b in self._blocks)
