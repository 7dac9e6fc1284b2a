"""Fast whole-memory reads and page scans (zero pages, changed pages) for snapshots."""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Iterator

import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from ttdbg.pages import PAGE
from ttdbg.snapshots.state import page_digest

from .nativelib import lib as _lib

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


# Memory is scanned and restored in chunks of this many pages, so the buffers stay small and
# a large mapping the guest never touched costs reads of the zero page, not host memory.
CHUNK_PAGES = 4096
CHUNK = CHUNK_PAGES * PAGE
_NO_POINTERS = (ctypes.c_void_p * CHUNK_PAGES)()
_NO_LENGTHS = (ctypes.c_size_t * CHUNK_PAGES)()

_Chunk = tuple[int, int, "ctypes.Array[ctypes.c_void_p]", "ctypes.Array[ctypes.c_size_t]"]


def nonzero_page_offsets(data: bytes) -> list[int]:
    """The offsets of the pages of `data` (the last one possibly short) that hold a non-zero
    byte, found natively a chunk at a time."""
    found: list[int] = []
    whole = len(data) // PAGE
    idx = (ctypes.c_uint32 * min(max(whole, 1), CHUNK_PAGES))()
    base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
    for first in range(0, whole, CHUNK_PAGES):
        count = min(CHUNK_PAGES, whole - first)
        n = _lib.bc_nonzero_pages(base + first * PAGE, count, PAGE, idx)
        found.extend((first + i) * PAGE for i in idx[:n])
    tail = data[whole * PAGE :]
    if tail.count(0) != len(tail):
        found.append(whole * PAGE)
    return found


class PagePointers:
    """The pages of one region as the native restore wants them, chunk by chunk: pointers to
    the page contents (NULL for zero pages) and their lengths. Chunks without a non-zero page
    share one array of NULLs, so a large sparse region costs what it holds. Keeps the bytes
    objects alive as long as it lives."""

    def __init__(self, start: int, end: int, pages: dict[int, bytes]) -> None:
        by_chunk: dict[int, list[tuple[int, bytes]]] = {}
        for addr, page in pages.items():
            if start <= addr < end:
                by_chunk.setdefault((addr - start) // CHUNK, []).append((addr, page))
        self._keep = [page for held in by_chunk.values() for _addr, page in held]
        self.chunks: list[_Chunk] = []
        for number, base in enumerate(range(start, end, CHUNK)):
            count = min(CHUNK_PAGES, (end - base) // PAGE)
            held = by_chunk.get(number)
            if not held:
                self.chunks.append((base, count, _NO_POINTERS, _NO_LENGTHS))
                continue
            pointers = (ctypes.c_void_p * count)()
            lengths = (ctypes.c_size_t * count)()
            for addr, page in held:
                i = (addr - base) // PAGE
                pointers[i] = ctypes.cast(ctypes.c_char_p(page), ctypes.c_void_p)
                lengths[i] = len(page)
            self.chunks.append((base, count, pointers, lengths))


def page_pointers(start: int, end: int, pages: dict[int, bytes]) -> PagePointers:
    """The restore plan of [start, end) for `pages`."""
    return PagePointers(start, end, pages)


def page_runs(pages: list[int]) -> list[tuple[int, int]]:
    """The sorted page addresses `pages` as [start, end) runs of consecutive pages."""
    runs: list[tuple[int, int]] = []
    for addr in pages:
        if runs and runs[-1][1] == addr:
            runs[-1] = (runs[-1][0], addr + PAGE)
        else:
            runs.append((addr, addr + PAGE))
    return runs


class PageScanner:
    """A reusable chunk buffer (already faulted in) for reading and comparing guest memory."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uch = uc._uch
        # Anonymous memory, committed page by page as reads fill it: a chunk-sized buffer
        # zero-filled up front cost a recording's start-up 12 ms, for a guest whose regions
        # are mostly far smaller than a chunk.
        self._mapping = mmap.mmap(-1, CHUNK)
        self._cur = (ctypes.c_char * CHUNK).from_buffer(self._mapping)
        self._idx = (ctypes.c_uint32 * CHUNK_PAGES)()

    def nonzero_pages(
        self, start: int, end: int, previous: dict[int, bytes] | None = None
    ) -> dict[int, bytes]:
        """The non-zero pages of [start, end) as {address: contents}; a page equal to its
        entry in `previous` is that bytes object (states side by side share what they
        have in common, and a capture never holds two copies of the guest's memory)."""
        found: dict[int, bytes] = {}
        old = previous or {}
        base_ptr = ctypes.addressof(self._cur)
        for addr, offset in self._nonzero(start, end):
            page = ctypes.string_at(base_ptr + offset, PAGE)
            prev = old.get(addr)
            found[addr] = prev if prev is not None and prev == page else page
        return found

    def nonzero_digests(
        self, start: int, end: int, previous: dict[int, bytes] | None = None
    ) -> dict[int, bytes]:
        """The digests of the non-zero pages of [start, end), by address, hashed straight
        from the chunk buffer (no copy of a page is made); a digest equal to its entry in
        `previous` is that bytes object."""
        found: dict[int, bytes] = {}
        old = previous or {}
        view = memoryview(self._cur).cast("B")
        for addr, offset in self._nonzero(start, end):
            digest = page_digest(view[offset : offset + PAGE])
            prev = old.get(addr)
            found[addr] = prev if prev == digest else digest
        return found

    def nonzero_addrs(self, start: int, end: int) -> list[int]:
        """The addresses of the non-zero pages of [start, end) (nothing copied)."""
        return [addr for addr, _offset in self._nonzero(start, end)]

    def _nonzero(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """(address, offset in the chunk buffer) of each non-zero page of [start, end): the
        buffer holds the page's chunk until the next one is asked for."""
        for base in range(start, end, CHUNK):
            size = min(CHUNK, end - base)
            err = uclib.uc_mem_read(self._uch, base, self._cur, size)
            if err != 0:
                raise unicorn.UcError(err)
            n = _lib.bc_nonzero_pages(self._cur, size // PAGE, PAGE, self._idx)
            for i in self._idx[:n]:
                yield base + PAGE * i, PAGE * i

    def restore_region(self, start: int, end: int, ptrs: PagePointers) -> int:
        """Make [start, end) hold the pages `ptrs` points to, writing only what differs."""
        written = 0
        for base, count, pointers, lengths in ptrs.chunks:
            done = _lib.bc_restore_region(
                self._uch, _MEM_READ, _MEM_WRITE, base, count, PAGE, pointers, lengths,
                self._cur, CHUNK, _ZERO, PAGE,
            )  # fmt: skip
            if done == -2:
                raise ValueError(f"restore of [{start:#x}, {end:#x}): a page is not {PAGE} bytes")
            if done < 0:
                raise unicorn.UcError(unicorn.UC_ERR_READ_UNMAPPED)
            written += done
        return written
