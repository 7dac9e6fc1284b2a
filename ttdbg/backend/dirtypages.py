"""Which pages of guest memory were written since a known state, so restores and captures
touch only those pages instead of scanning all of memory: a native write hook over fixed
RAM (firmware boards), or Unicorn's TLB over a whole address space whose map changes
(Linux programs)."""

from __future__ import annotations

import bisect
import ctypes
import weakref
from typing import TYPE_CHECKING, Protocol

import unicorn

from ttdbg.pages import PAGE, PERM_X
from ttdbg.snapshots.state import MachineState, PageSummary, add_range, in_regions

from .icount import _lib, flush_tlb

if TYPE_CHECKING:
    from .icount import Block, BlockCounter

assert PAGE == 1 << 12  # the native trackers shift by 12


class _Dirty(ctypes.Structure):
    _fields_ = [
        ("base", ctypes.c_uint64),
        ("npages", ctypes.c_uint64),
        ("marks", ctypes.c_void_p),
        ("list", ctypes.c_void_p),
        ("count", ctypes.c_uint64),
    ]


_lib.bc_dirty_mark.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64]
_lib.bc_dirty_mark.restype = None
_lib.bc_dirty_clear.argtypes = [ctypes.c_void_p]
_lib.bc_dirty_clear.restype = None
_lib.bc_pageset_new.argtypes = []
_lib.bc_pageset_new.restype = ctypes.c_void_p
_lib.bc_pageset_free.argtypes = [ctypes.c_void_p]
_lib.bc_pageset_free.restype = None
_lib.bc_pageset_mark.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64]
_lib.bc_pageset_mark.restype = ctypes.c_int
_lib.bc_pageset_count.argtypes = [ctypes.c_void_p]
_lib.bc_pageset_count.restype = ctypes.c_uint64
_lib.bc_pageset_pages.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
_lib.bc_pageset_pages.restype = None
_lib.bc_pageset_clear.argtypes = [ctypes.c_void_p]
_lib.bc_pageset_clear.restype = None


class _Marks(Protocol):
    """Where the written pages are kept."""

    def mark(self, addr: int, size: int) -> None: ...
    def pages(self) -> list[int]: ...
    def clear(self) -> None: ...


class _Region:
    """One tracked region: its marks, its list of marked pages, the native hook's data."""

    def __init__(self, start: int, end: int) -> None:
        npages = (end - start) // PAGE
        self.start, self.end = start, end
        self.marks = (ctypes.c_uint8 * npages)()
        self.list = (ctypes.c_uint32 * npages)()
        self.data = _Dirty(
            start, npages, ctypes.addressof(self.marks), ctypes.addressof(self.list), 0
        )

    def pages(self) -> list[int]:
        return [self.start + PAGE * i for i in self.list[: self.data.count]]


class _RegionMarks:
    """Fixed RAM regions, one byte per page, marked by a native write hook on each."""

    def __init__(self, counter: BlockCounter, regions: list[tuple[int, int]]) -> None:
        self._regions = [_Region(start, end) for start, end in regions]
        for region in self._regions:
            counter.add_native_hook(
                unicorn.UC_HOOK_MEM_WRITE,
                _lib.bc_dirty_hook,
                ctypes.byref(region.data),
                region.start,
                region.end - 1,
            )

    def mark(self, addr: int, size: int) -> None:
        for region in self._regions:
            if addr < region.end and addr + size > region.start:
                lo = max(addr, region.start)
                hi = min(addr + size, region.end)
                _lib.bc_dirty_mark(ctypes.byref(region.data), lo, hi - lo)

    def pages(self) -> list[int]:
        return [page for region in self._regions for page in region.pages()]

    def clear(self) -> None:
        for region in self._regions:
            _lib.bc_dirty_clear(ctypes.byref(region.data))


class _AddressSpaceMarks:
    """Any page of the address space, in a native set that Unicorn's TLB fills: a page's
    TLB entry allows stores only once the page is marked, and a clear flushes the TLB, so
    the guest's first store to a page after a clear marks it and later ones run at full
    speed (a write hook would send every load and store down Unicorn's slow path)."""

    def __init__(self, counter: BlockCounter, uc: unicorn.Uc) -> None:
        self._uc = uc
        self._set = _lib.bc_pageset_new()
        if not self._set:
            raise MemoryError("no memory for the written-page set")
        uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)
        counter.add_native_hook(
            unicorn.UC_HOOK_TLB_FILL, _lib.bc_pageset_tlb_fill, ctypes.c_void_p(self._set)
        )
        # The set lives as long as the emulator whose hook writes to it, not as this object
        # (a machine may drop its tracker and run on).
        weakref.finalize(uc, _lib.bc_pageset_free, self._set)
        flush_tlb(self._uc)

    def mark(self, addr: int, size: int) -> None:
        if _lib.bc_pageset_mark(self._set, addr, size):
            raise MemoryError("no memory for the written-page set")

    def pages(self) -> list[int]:
        n = _lib.bc_pageset_count(self._set)
        if n == 0:
            return []
        out = (ctypes.c_uint64 * n)()
        _lib.bc_pageset_pages(self._set, out, n)
        return list(out)

    def clear(self) -> None:
        _lib.bc_pageset_clear(self._set)
        flush_tlb(self._uc)


class DirtyPages:
    """Pages written since `base`, the state memory equalled then.

    Every store the guest makes is marked natively; host writes (the loader, a frame pushed
    in Python, gdb) through `mark`, and unmapped ranges through `forget`. Memory then equals
    `base.pages` except on `pages()` and in `forgotten` (zero wherever mapped again).

    Fixed RAM regions (a firmware board's map, checked against the base's before it is
    trusted), or with `over_address_space` the whole address space of a map that changes.
    """

    def __init__(self, counter: BlockCounter, regions: list[tuple[int, int]]) -> None:
        self._start(counter, _RegionMarks(counter, regions), follows_map_changes=False)

    @classmethod
    def over_address_space(cls, counter: BlockCounter, uc: unicorn.Uc) -> DirtyPages:
        """A tracker of every page, whatever is mapped there (Linux programs)."""
        tracker = cls.__new__(cls)
        tracker._start(counter, _AddressSpaceMarks(counter, uc), follows_map_changes=True)
        return tracker

    def _start(self, counter: BlockCounter, marks: _Marks, follows_map_changes: bool) -> None:
        self._marks = marks
        self.follows_map_changes = follows_map_changes
        self.base: MachineState | PageSummary | None = None
        self.forgotten: list[tuple[int, int]] = []  # sorted, disjoint, not touching
        self._base_addrs: tuple[MachineState | PageSummary, list[int]] | None = None
        # Where the block counter learned code, by page: the (start, end) offsets of its
        # blocks. A restore that changes those bytes must drop translated blocks and learned
        # counts; one that changes only data sharing the page (small firmware) need not.
        # Over a whole address space a page of an executable region counts as code instead:
        # a listener would stop the native learning of every new block.
        self.code_spans: dict[int, set[tuple[int, int]]] = {}
        if not follows_map_changes:
            counter.listeners.append(self)

    def mark(self, addr: int, size: int) -> None:
        """A write from the host (not through the emulated CPU)."""
        self._marks.mark(addr, size)

    def forget(self, start: int, end: int) -> None:
        """[start, end) was unmapped: what the base held there is gone."""
        # Kept sorted and merged, so `in_forgotten` is a bisection however many ranges a
        # program unmaps between two snapshots (thread stacks, freed mmap chunks).
        add_range(self.forgotten, start, end)

    def pages(self) -> list[int]:
        """Every page written since the last `reset`."""
        return self._marks.pages()

    def reset(self, base: MachineState | PageSummary | None) -> None:
        """Memory equals `base`'s pages now (a summary: those its digests are of; None: not
        known)."""
        self._marks.clear()
        self.forgotten = []
        self.base = base

    def knows(self, regions: tuple[tuple[int, int, int], ...]) -> bool:
        """Whether memory, now mapped as `regions`, is known from the base and the marks."""
        if self.base is None:
            return False
        return self.follows_map_changes or self.base.regions == regions

    def in_forgotten(self, addr: int) -> bool:
        """Whether `addr` was unmapped since the base."""
        return in_regions(self.forgotten, addr)

    def maybe_nonzero(self, start: int, end: int) -> list[int] | None:
        """The pages of [start, end) that may not be zero (sorted): those the base held
        there, unless unmapped since, and those written since. None: not known."""
        base = self.base
        if base is None or not self.follows_map_changes:
            return None
        if self._base_addrs is None or self._base_addrs[0] is not base:
            held = base.pages if isinstance(base, MachineState) else base.digests
            self._base_addrs = (base, sorted(held))
        addrs = self._base_addrs[1]
        found = {
            a
            for a in addrs[bisect.bisect_left(addrs, start) : bisect.bisect_left(addrs, end)]
            if not self.in_forgotten(a)
        }
        found.update(a for a in self.pages() if start <= a < end)
        return sorted(found)

    # -- a BlockListener of the counter ------------------------------------------------------

    def may_hold_code(self, addr: int, regions: tuple[tuple[int, int, int], ...]) -> bool:
        """Whether the page at `addr`, mapped as in `regions`, may hold translated code."""
        if not self.follows_map_changes:
            return addr in self.code_spans
        i = bisect.bisect_right(regions, (addr, 1 << 65, 0)) - 1
        return i >= 0 and addr < regions[i][1] and bool(regions[i][2] & PERM_X)

    def code_changed(self, addr: int, old: bytes, new: bytes) -> bool:
        """Whether the page at `addr` going from `old` to `new` changes learned code."""
        if self.follows_map_changes:
            return old != new
        spans = self.code_spans.get(addr)
        return spans is not None and any(old[lo:hi] != new[lo:hi] for lo, hi in spans)

    def learned(self, block: Block, code: bytes) -> None:
        end = block.addr + block.size
        for page in range(block.addr - block.addr % PAGE, end, PAGE):
            span = (max(block.addr, page) - page, min(end, page + PAGE) - page)
            self.code_spans.setdefault(page, set()).add(span)

    def forgot(self) -> None:
        # The pages keep counting as code: the emulator may still hold blocks translated there.
        pass
