"""Which pages of fixed guest RAM were written since a known state (a native write hook), so
restores and captures touch only those pages instead of scanning all of memory."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import unicorn

from ttdbg.pages import PAGE

from .icount import _lib

if TYPE_CHECKING:
    from ttdbg.snapshots.state import MachineState

    from .icount import Block, BlockCounter

assert PAGE == 1 << 12  # the native tracker shifts by 12


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


class DirtyPages:
    """Pages written in the tracked regions since `base`, the state memory equalled then.

    Every store the guest makes goes through the native hook; host writes (the loader, an
    exception frame pushed in Python, gdb) through `mark`. Memory then equals `base.pages`
    except on `pages()`. Only for a memory map that never changes (firmware boards): the
    map is checked against the base's before it is trusted.
    """

    def __init__(self, counter: BlockCounter, regions: list[tuple[int, int]]) -> None:
        self._regions = [_Region(start, end) for start, end in regions]
        self.base: MachineState | None = None
        # Where the block counter learned code, by page: the (start, end) offsets of its
        # blocks. A restore that changes those bytes must drop translated blocks and learned
        # counts; one that changes only data sharing the page (small firmware) need not.
        self.code_spans: dict[int, set[tuple[int, int]]] = {}
        counter.listeners.append(self)
        for region in self._regions:
            counter.add_native_hook(
                unicorn.UC_HOOK_MEM_WRITE,
                _lib.bc_dirty_hook,
                ctypes.byref(region.data),
                region.start,
                region.end - 1,
            )

    def mark(self, addr: int, size: int) -> None:
        """A write from the host (not through the emulated CPU)."""
        for region in self._regions:
            if addr < region.end and addr + size > region.start:
                lo = max(addr, region.start)
                hi = min(addr + size, region.end)
                _lib.bc_dirty_mark(ctypes.byref(region.data), lo, hi - lo)

    def pages(self) -> list[int]:
        """Every page written since the last `reset`."""
        return [page for region in self._regions for page in region.pages()]

    def reset(self, base: MachineState | None) -> None:
        """Memory equals `base.pages` now (None: not known)."""
        for region in self._regions:
            _lib.bc_dirty_clear(ctypes.byref(region.data))
        self.base = base

    # -- a BlockListener of the counter ------------------------------------------------------

    def code_changed(self, addr: int, old: bytes, new: bytes) -> bool:
        """Whether the page at `addr` going from `old` to `new` changes learned code."""
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
