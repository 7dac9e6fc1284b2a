"""Breakpoints on a mapped file's code: at each moment they apply wherever the file is mapped.

A library loaded with dlopen, unloaded with dlclose and loaded again can sit at a different
address each time, and another file's code can take its old place. A breakpoint on a plain
address would miss the later loads and stop in the other file; a `CodeBreakpoint` names the
file (by content) and the byte of it, and the mappings of the moment say where that is.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .elfheaders import ET_DYN, PT_LOAD, read_headers

if TYPE_CHECKING:
    from .linux.memory import AddressSpace
    from .machine import Machine

UC_PROT_EXEC = 4


@dataclass(frozen=True, order=True)
class CodeBreakpoint:
    """The instruction at byte `offset` of the file whose content has SHA-256 `digest`."""

    digest: bytes
    offset: int


def code_addresses(
    views: Sequence[Sequence[Any]],
    regions: Sequence[tuple[int, int, int]],
    bp: CodeBreakpoint,
) -> list[int]:
    """Where `bp` is now: each executable address that shows its file's byte `offset`, from
    the file mappings ([start, end, digest hex, file offset]) and the memory regions
    ((start, end, perms), sorted). A small library's data segment can show the same page of
    the file too, without execute permission: that copy is not code."""
    digest = bp.digest.hex()
    starts = [start for start, _end, _perms in regions]
    out = []
    for start, end, view_digest, offset in views:
        if view_digest != digest or not offset <= bp.offset < offset + end - start:
            continue
        addr = start + bp.offset - offset
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < regions[i][1] and regions[i][2] & UC_PROT_EXEC:
            out.append(addr)
    return out


def is_shared_object(image: bytes) -> bool:
    """An ELF shared object (ET_DYN) whose headers Linux would load."""
    try:
        header, _segments = read_headers(image)
    except ValueError:
        return False
    return header.type == ET_DYN


def _loads(image: bytes) -> list[tuple[int, int, int]]:
    """(vaddr, file offset, file size) of an ELF file's PT_LOAD segments ([] when its headers
    are not what Linux would load)."""
    try:
        _header, segments = read_headers(image)
    except ValueError:
        return []
    return [(s.vaddr, s.offset, s.filesz) for s in segments if s.type == PT_LOAD]


def file_offset(image: bytes, vaddr: int) -> int | None:
    """The byte of the file that its address `vaddr` (before the load bias) shows, or None
    outside every segment's file bytes."""
    for seg_vaddr, offset, filesz in _loads(image):
        if seg_vaddr <= vaddr < seg_vaddr + filesz:
            return vaddr - seg_vaddr + offset
    return None


def file_vaddrs(image: bytes, offset: int) -> list[int]:
    """The addresses (before the load bias) where the file's byte `offset` shows."""
    return [
        offset - seg_offset + vaddr
        for vaddr, seg_offset, filesz in _loads(image)
        if seg_offset <= offset < seg_offset + filesz
    ]


@dataclass(frozen=True)
class MappedLibrary:
    """A shared object the program maps at some time in the recording."""

    path: str
    digest: bytes


def mapped_libraries(
    mapped: Sequence[bytes], paths: dict[str, bytes], content: Callable[[bytes], bytes | None]
) -> list[MappedLibrary]:
    """The shared objects among the files mapped (digests, in the order first mapped), each
    named by a path the guest opened it by (sorted first, so the name does not depend on
    the order paths were stored), or by its digest when no path names it any more."""
    names: dict[bytes, str] = {}
    for path, digest in sorted(paths.items()):
        names.setdefault(digest, path)
    out = []
    for digest in mapped:
        image = content(digest)
        if image is not None and is_shared_object(image):
            out.append(MappedLibrary(names.get(digest, digest.hex()[:12]), digest))
    return out


class MappedCode:
    """Where a Linux process's code breakpoints are, from its file mappings and memory map
    (the tracer's `CodeLayout`)."""

    def __init__(self, mem: AddressSpace, machine: Machine) -> None:
        self.mem = mem
        self.machine = machine

    def locate(self, bp: CodeBreakpoint) -> list[int]:
        return code_addresses(self.mem.views, self.machine.regions(), bp)

    def listen(self, changed: Callable[[], None] | None) -> None:
        self.mem.on_change = changed

    def at(self, addr: int, content: Callable[[bytes], bytes | None]) -> CodeBreakpoint | None:
        """The code breakpoint on the shared object byte mapped at `addr` now, or None where
        no shared object is mapped."""
        for start, end, digest, offset in self.mem.views:
            if start <= addr < end:
                image = content(bytes.fromhex(digest))
                if image is not None and is_shared_object(image):
                    return CodeBreakpoint(bytes.fromhex(digest), offset + addr - start)
        return None
