"""Shared file mappings kept coherent with their files, as Linux's page cache keeps them.

While recording, the guest's stores into a shared mapping are written back to the file
(pwrite through a host descriptor kept for the mapping) before any call that reads, writes or
truncates a file it maps, and at msync, munmap, mremap and the end of the run: host effects
only, never logged. After a call that may change a mapped file (write, ftruncate, ...), the
bytes and size of the file that differ from what its mappings show are logged as a
MAPPED_FILE event and put into the mappings; replay takes them from the log and never touches
the host.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ttdbg.errors import DivergenceError

from ..eventlog import Event, EventKind
from ..machine import PAGE, Machine
from .sharedmaps import SharedMap

if TYPE_CHECKING:
    from .platform import LinuxPlatform

O_TRUNC = 0o1000  # the same bit on x86-64, AArch64 and RISC-V 64
PROT_WRITE = 2
RUN_HEAD = struct.Struct("<QI")  # a MAPPED_FILE payload: (file offset, length, bytes)...
ALL = -1  # a call that names its file by path: every mapped file may be it
WRITE_CALLS = frozenset(("write", "writev", "pwrite64", "pwritev", "pwritev2"))
POSITIONED_WRITES = frozenset(("pwrite64", "pwritev", "pwritev2"))  # offset: 4th argument
CURRENT = (1 << 64) - 1  # pwritev2's offset -1: the descriptor's own position
Span = tuple[int, int] | None
NOTHING = (0, 0)


@dataclass(frozen=True)
class Touch:
    """How a call reaches files: the arguments that hold descriptors (or ALL files), the
    argument holding open flags (only O_TRUNC touches the file then), and whether the file may
    hold other bytes or have another size afterwards."""

    fds: tuple[int, ...]
    changes: bool
    open_flags: int | None = None


READS, WRITES = Touch((0,), False), Touch((0,), True)
TOUCHES = {
    **dict.fromkeys(("read", "pread64", "readv", "preadv", "preadv2", "readahead"), READS),
    **dict.fromkeys(("fsync", "fdatasync", "sync_file_range"), READS),
    **dict.fromkeys(("write", "pwrite64", "writev", "pwritev", "pwritev2"), WRITES),
    **dict.fromkeys(("ftruncate", "fallocate"), WRITES),
    "sendfile": Touch((0, 1), True),
    "copy_file_range": Touch((0, 2), True),
    "splice": Touch((0, 2), True),
    "mmap": Touch((4,), False),  # a new mapping shows the file as it is
    "truncate": Touch((ALL,), True),
    "creat": Touch((ALL,), True),
    "open": Touch((ALL,), True, open_flags=1),
    "openat": Touch((ALL,), True, open_flags=2),
    "openat2": Touch((ALL,), True),
    "sync": Touch((ALL,), False),
    "syncfs": Touch((ALL,), False),
    "mremap": Touch((ALL,), True),  # pages a shared mapping grows by show the file
}


def _runs(old: bytes, new: bytes) -> Iterator[tuple[int, int]]:
    """The [lo, hi) page runs where `new` differs from `old` (same length)."""
    start = None
    for at in range(0, len(new), PAGE):
        same = old[at : at + PAGE] == new[at : at + PAGE]
        if not same and start is None:
            start = at
        elif same and start is not None:
            yield start, at
            start = None
    if start is not None:
        yield start, len(new)


def _pread(fd: int, size: int, at: int) -> bytes:
    chunks, got = [], 0
    while got < size and (chunk := os.pread(fd, min(size - got, 1 << 24), at + got)):
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class HostSharedFiles:
    """The recorder's side: a host descriptor per file mapped shared, writing stores back and
    finding the file's changes. Reached only through `HostIO`, so replay never runs it."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}  # file ident -> host fd (its own, as a mapping is)
        self.inodes: dict[int, tuple[int, int]] = {}
        self.writable: set[int] = set()  # the idents whose descriptor is open for writing
        self.error = 0  # a write-back that failed, reported by the next msync (as Linux)
        # The last failed write-back no msync reported, for the recording's END frame.
        self.unreported = ""

    def adopt(self, host_fd: int, writable: bool, known: Collection[int], fresh: int) -> int:
        """The ident of the file behind `host_fd`: the one its mappings have, or `fresh`. The
        descriptor kept for it is one open for writing once any of its mappings may write."""
        self.prune(known)
        st = os.fstat(host_fd)
        key = (st.st_dev, st.st_ino)
        ident = next((i for i, inode in self.inodes.items() if inode == key), fresh)
        if ident == fresh or (writable and ident not in self.writable):
            if ident in self.fds:
                os.close(self.fds[ident])
            self.fds[ident] = os.dup(host_fd)
            self.inodes[ident] = key
            if writable:
                self.writable.add(ident)
        return ident

    def prune(self, known: Collection[int]) -> None:
        """Close the descriptors of files no mapping shows any more."""
        for ident in [i for i in self.fds if i not in known]:
            os.close(self.fds.pop(ident))
            del self.inodes[ident]
            self.writable.discard(ident)

    def touched(self, host_fd: int) -> list[int]:
        """The idents of the mapped file `host_fd` is open on (none, or one)."""
        try:
            st = os.fstat(host_fd)
        except OSError:
            return []
        return [i for i, inode in self.inodes.items() if inode == (st.st_dev, st.st_ino)]

    def write_back(
        self, m: Machine, maps: list[SharedMap], start: int = 0, end: int = 1 << 64
    ) -> int:
        """Write the pages of [start, end) in `maps` that differ from their files to the
        files, up to each file's end (a store past it stays in memory, as on Linux).
        0, or the negative errno of a write that failed."""
        failed = 0
        for entry in maps:
            fd = self.fds.get(entry.ident)
            # A mapping that is not writable now holds no store the file lacks: it was
            # written back when it stopped being writable (mprotect).
            if fd is None or not entry.prot & PROT_WRITE:
                continue
            try:
                size = os.fstat(fd).st_size
                lo, hi = max(entry.start, start), min(entry.end, end)
                at, stop = entry.file_range(lo, hi)
                stop = min(stop, size)
                if at >= stop:
                    continue
                guest = m.read(lo, stop - at)
                disk = _pread(fd, stop - at, at).ljust(stop - at, b"\0")
                for r_lo, r_hi in _runs(disk, guest):
                    data, pos = guest[r_lo:r_hi], at + r_lo
                    while data:
                        n = os.pwrite(fd, data, pos)
                        data, pos = data[n:], pos + n
            except OSError as err:
                failed = -(err.errno or errno.EIO)
        if failed:
            self.error = failed
            self.unreported = os.strerror(-failed)
        return failed

    def sync(self, m: Machine, maps: list[SharedMap], start: int, end: int, flush: bool) -> int:
        """msync: write back, and with MS_SYNC have the files' data reach the disk; the
        negative errno of any write-back that failed since the last msync."""
        got = self.write_back(m, maps, start, end)
        if flush and not got:
            for ident in sorted({e.ident for e in maps if e.may_write}):
                try:
                    os.fdatasync(self.fds[ident])
                except (OSError, KeyError) as err:
                    got = -(getattr(err, "errno", None) or errno.EIO)
        error, self.error = self.error, 0
        if error or got:
            self.unreported = ""  # the guest was told
        return got or error

    def change(
        self,
        m: Machine,
        maps: list[SharedMap],
        ident: int,
        old_size: int,
        span: tuple[int, int] | None,
        icount: int,
    ) -> Event | None:
        """The MAPPED_FILE event for file `ident` if its bytes or size now differ from what
        its mappings show (whole pages up to its end), else None. Only the file's `span`
        (offsets a write reached) and the pages between its old and new end are compared,
        or all of it when `span` is None."""
        fd = self.fds.get(ident)
        if fd is None:
            return None
        size = os.fstat(fd).st_size
        limit = _page_up(size)
        ranges = [(0, limit)] if span is None else [(span[0] // PAGE * PAGE, _page_up(span[1]))]
        if span is not None and size != old_size:
            ranges.append((min(size, old_size) // PAGE * PAGE, _page_up(max(size, old_size))))
        runs: dict[int, bytes] = {}
        for entry in maps:
            first, last = entry.file_range(entry.start, entry.end)
            for lo, hi in ranges:
                at, stop = max(lo, first), min(hi, last, limit)
                if at >= stop:
                    continue
                guest = m.read(entry.start + at - entry.offset, stop - at)
                disk = _pread(fd, stop - at, at).ljust(stop - at, b"\0")
                for r_lo, r_hi in _runs(guest, disk):
                    runs[at + r_lo] = disk[r_lo:r_hi]
        if not runs and size == old_size:
            return None
        payload = b"".join(RUN_HEAD.pack(at, len(data)) + data for at, data in sorted(runs.items()))
        return Event(EventKind.MAPPED_FILE, icount, (ident, size), 0, payload)

    @staticmethod
    def written(name: str, args: tuple[int, ...], result: int, host_fd: int | None) -> Span:
        """The file offsets a write call reached (NOTHING when it wrote nothing), or None
        for a call that may have changed any part of the file."""
        if name not in WRITE_CALLS:
            return None
        if result <= 0:
            return NOTHING
        at = args[3] if name in POSITIONED_WRITES else CURRENT
        if at == CURRENT:  # the descriptor's position, moved past the bytes written
            if host_fd is None:
                return None
            try:
                end = os.lseek(host_fd, 0, os.SEEK_CUR)
            except OSError:
                return None
            return end - result, end
        return at, at + result


def _page_up(value: int) -> int:
    return (value + PAGE - 1) // PAGE * PAGE


def decode_runs(payload: bytes, size: int) -> list[tuple[int, bytes]]:
    """The (file offset, bytes) runs of a MAPPED_FILE payload; ValueError unless each lies
    in the file's whole pages."""
    runs, pos = [], 0
    limit = (size + PAGE - 1) // PAGE * PAGE
    while pos < len(payload):
        at, length = RUN_HEAD.unpack_from(payload, pos)
        pos += RUN_HEAD.size
        if pos + length > len(payload) or at + length > limit:
            raise ValueError(f"a run of {length} bytes at {at} in a file of {size}")
        runs.append((at, payload[pos : pos + length]))
        pos += length
    return runs


class SharedFiles:
    """Around each syscall of the platform: write back before, bring the file's changes in
    after (logged when recording, from the log in replay)."""

    def __init__(self, platform: LinuxPlatform) -> None:
        self.p = platform
        if platform.host is not None:
            platform.mem.write_back = self.write_back

    @property
    def _host(self) -> HostSharedFiles:
        return self.p.live.shared

    def _host_fd(self, fd_value: int) -> int | None:
        """Recording: the host descriptor behind the guest's descriptor argument."""
        fd = fd_value & 0xFFFFFFFF
        f = self.p.fds.get(fd - (1 << 32) if fd >= 1 << 31 else fd)
        return self.p.live.fds.get(f.ident) if f is not None else None

    def _idents(self, touch: Touch, args: tuple[int, ...]) -> list[int]:
        """Recording: the mapped files the call reaches."""
        p = self.p
        if ALL in touch.fds:
            return sorted(p.mem.shared.sizes)
        found: set[int] = set()
        for index in touch.fds:
            host_fd = self._host_fd(args[index])
            if host_fd is not None:
                found.update(self._host.touched(host_fd))
        return sorted(found & p.mem.shared.sizes.keys())

    def _reaches(self, name: str, args: tuple[int, ...]) -> Touch | None:
        touch = TOUCHES.get(name)
        if touch is None or not self.p.mem.shared:
            return None
        if touch.open_flags is not None and not args[touch.open_flags] & O_TRUNC:
            return None
        return touch

    def before(self, name: str, args: tuple[int, ...]) -> None:
        """Recording: the stores into the files the call reaches go to them first."""
        touch = self._reaches(name, args)
        if touch is None or self.p.host is None:
            return
        idents = set(self._idents(touch, args))
        if idents:
            maps = [e for e in self.p.mem.shared.maps if e.ident in idents]
            self._host.write_back(self.p.m, maps)

    def after(self, name: str, args: tuple[int, ...], result: int | None) -> None:
        """The files the call changed, as their mappings show them now."""
        touch = self._reaches(name, args)
        if touch is None or not touch.changes:
            return
        p = self.p
        kind, icount = EventKind.MAPPED_FILE, p.syscall_icount
        if p.inputs.replaying:
            while (ev := p.inputs.decide(kind, icount, lambda: None)) is not None:
                self._apply(ev)
            return
        host, idents = self._host, self._idents(touch, args)
        if not idents:
            return
        host_fd = self._host_fd(args[0]) if name in WRITE_CALLS else None
        span = host.written(name, args, -1 if result is None else result, host_fd)
        if span == NOTHING:
            return
        for ident in idents:
            maps, size = p.mem.shared.of_file(ident), p.mem.shared.sizes[ident]

            def change(
                maps: list[SharedMap] = maps, ident: int = ident, size: int = size
            ) -> Event | None:
                return host.change(p.m, maps, ident, size, span, icount)

            ev = p.inputs.decide(kind, icount, change)
            if ev is not None:
                self._apply(ev)

    def _apply(self, ev: Event) -> None:
        ident, size = ev.args
        mem = self.p.mem
        try:
            if ident not in mem.shared.sizes or size >= 1 << 63:
                raise ValueError(f"file {ident} of {size} bytes is not mapped")
            runs = decode_runs(ev.payload, size)
        except (ValueError, struct.error) as err:
            raise DivergenceError(ev.icount, "a well-formed mapped file change", str(err)) from None
        mem.set_file_size(ident, size)
        for at, data in runs:
            mem.write_file_bytes(ident, at, data)

    def write_back(self, start: int = 0, end: int = 1 << 64) -> None:
        """Recording: the stores into [start, end) reach their files (munmap, exit...)."""
        if self.p.host is not None and self.p.mem.shared:
            self._host.write_back(self.p.m, self.p.mem.shared.overlapping(start, end), start, end)

    def finish(self) -> None:
        """Recording ends: every store reaches its file, as when a process ends."""
        if self.p.host is not None:
            self.write_back()
            self._host.prune(())
