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


class PageScanner:
    """Reusable buffers (already faulted in) for reading and comparing guest memory."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uch = uc._uch
        self._size = 0
        self._cur = ctypes.create_string_buffer(0)
        self._want = ctypes.create_string_buffer(0)
        self._idx = (ctypes.c_uint32 * 0)()

    def _reserve(self, size: int) -> None:
        if size > self._size:
            self._size = max(size, 2 * self._size)
            self._cur = ctypes.create_string_buffer(self._size)
            self._want = ctypes.create_string_buffer(self._size)
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

    def write_differences(self, start: int, end: int, pages: dict[int, bytes]) -> int:
        """Make [start, end) hold `pages` (absent pages zero), writing only what differs.

        Returns how many pages were written.
        """
        size = end - start
        self._read(start, size)
        ctypes.memset(self._want, 0, size)
        want = ctypes.addressof(self._want)
        for addr, page in pages.items():
            if start <= addr < end:
                ctypes.memmove(want + addr - start, page, PAGE)
        n = _lib.bc_changed_pages(self._cur, self._want, size // PAGE, PAGE, self._idx)
        for i in self._idx[:n]:
            err = uclib.uc_mem_write(self._uch, start + PAGE * i, want + PAGE * i, PAGE)
            if err != 0:
                raise unicorn.UcError(err)
        return int(n)
