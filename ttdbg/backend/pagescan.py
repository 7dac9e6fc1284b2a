"""Fast whole-memory reads and page scans (zero pages, changed pages) for snapshots."""

from __future__ import annotations

import ctypes

import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from . import _blockcount

PAGE = 0x1000
_lib = ctypes.CDLL(_blockcount.__file__)
_lib.bc_nonzero_pages.restype = ctypes.c_size_t
_lib.bc_nonzero_pages.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_size_t,
    ctypes.c_void_p,
]
_lib.bc_changed_pages.restype = ctypes.c_size_t
_lib.bc_changed_pages.argtypes = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_size_t,
    ctypes.c_void_p,
]


_lib.bc_restore_region.restype = ctypes.c_int64
_lib.bc_restore_region.argtypes = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_uint64,
    ctypes.c_size_t,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_size_t,
]
_MEM_READ = ctypes.cast(uclib.uc_mem_read, ctypes.c_void_p).value
_MEM_WRITE = ctypes.cast(uclib.uc_mem_write, ctypes.c_void_p).value
_ZERO = ctypes.create_string_buffer(PAGE)


class PagePointers:
    """Pointers to the page contents of one region (NULL for zero pages) and their lengths,
    for the native restore; keeps the bytes objects alive as long as it lives."""

    def __init__(self, start: int, end: int, pages: dict[int, bytes]) -> None:
        count = (end - start) // PAGE
        self.pointers = (ctypes.c_void_p * count)()
        self.lengths = (ctypes.c_size_t * count)()
        self._keep: list[bytes] = []
        for addr, page in pages.items():
            if start <= addr < end:
                i = (addr - start) // PAGE
                self.pointers[i] = ctypes.cast(ctypes.c_char_p(page), ctypes.c_void_p)
                self.lengths[i] = len(page)
                self._keep.append(page)


def page_pointers(start: int, end: int, pages: dict[int, bytes]) -> PagePointers:
    """The restore plan of [start, end) for `pages`."""
    return PagePointers(start, end, pages)


class PageScanner:
    """Reusable buffers (already faulted in) for reading and comparing guest memory."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uch = uc._uch
        self._size = 0
        self._cur = ctypes.create_string_buffer(0)
        self._idx = (ctypes.c_uint32 * 0)()

    def _reserve(self, size: int) -> None:
        if size > self._size:
            self._size = max(size, 2 * self._size)
            self._cur = ctypes.create_string_buffer(self._size)
            self._idx = (ctypes.c_uint32 * (self._size // PAGE))()

    def _read(self, start: int, size: int) -> None:
        self._reserve(size)
        err = uclib.uc_mem_read(self._uch, start, self._cur, size)
        if err != 0:
            raise unicorn.UcError(err)

    def nonzero_pages(self, start: int, end: int) -> dict[int, bytes]:
        """The non-zero pages of [start, end) as {address: contents}."""
        size = end - start
        self._read(start, size)
        n = _lib.bc_nonzero_pages(self._cur, size // PAGE, PAGE, self._idx)
        base = ctypes.addressof(self._cur)
        return {start + PAGE * i: ctypes.string_at(base + PAGE * i, PAGE) for i in self._idx[:n]}

    def restore_region(self, start: int, end: int, ptrs: PagePointers) -> int:
        """Make [start, end) hold the pages `ptrs` points to, writing only what differs."""
        size = end - start
        self._reserve(size)
        written = _lib.bc_restore_region(
            self._uch, _MEM_READ, _MEM_WRITE, start, size // PAGE, PAGE, ptrs.pointers,
            ptrs.lengths, self._cur, self._size, _ZERO, PAGE,
        )  # fmt: skip
        if written == -2:
            raise ValueError(f"restore of [{start:#x}, {end:#x}): a page is not {PAGE} bytes")
        if written < 0:
            raise unicorn.UcError(unicorn.UC_ERR_READ_UNMAPPED)
        return int(written)
