"""The address space: brk, mmap, munmap, mprotect, mremap and the no-op advice calls."""

from __future__ import annotations

import os

from ttdbg.errors import DivergenceError, GuestError

from ...filestore import DIGEST_SIZE
from ...hostmem import cut
from ...machine import PAGE
from ..errnos import EACCES, ENODEV, ENOMEM, EOPNOTSUPP
from ..memory import MAP_ANONYMOUS, MAP_FIXED, page_up
from ..platform import LinuxPlatform
from ..sharedmaps import SharedMap
from . import procfs
from .table import EBADF, EINVAL, O_ACCMODE, Args, Kind, open_file, syscall

O_WRONLY, O_RDWR = 1, 2
MAP_SHARED, PROT_WRITE = 0x01, 0x2
ZERO_DEVICE = 1  # what the host answers for a mapping of /dev/zero


@syscall("brk", kind=Kind.EMULATED)
def sys_brk(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_brk(a[0])


@syscall("mmap", kind=Kind.EMULATED)
def sys_mmap(p: LinuxPlatform, a: Args) -> int:
    addr, length, prot, flags, fd, offset = a
    if flags & MAP_ANONYMOUS:
        return p.mem.do_mmap(addr, length, prot, flags)
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    if offset % PAGE or length == 0:
        return -EINVAL
    if f.flags & O_ACCMODE == O_WRONLY:
        return -EACCES
    if f.kind in procfs.KINDS:
        return -ENODEV  # /proc's entries cannot be mapped
    shared = bool(flags & MAP_SHARED)
    may_write = f.flags & O_ACCMODE == O_RDWR
    if shared and prot & PROT_WRITE and not may_write:
        return -EACCES  # as Linux: a shared writable mapping needs a file open for writing
    # The file's whole content, stored in the recording once; the log keeps its digest (and
    # for a shared mapping, which file it is among those mapped shared).
    sizes = p.mem.shared.sizes
    if shared:
        fresh, known = p.mem.shared.next_ident, frozenset(sizes)
        got, answer = p.host_call(lambda: p.live.map_shared(f, fresh, known))
    else:
        got, answer = p.host_call(lambda: p.live.map_file(f))
    if got < 0:
        return got
    if got == ZERO_DEVICE:
        # As Linux: a mapping of /dev/zero is anonymous memory, private or shared.
        return p.mem.do_mmap(addr, length, prot, flags | MAP_ANONYMOUS)
    digest = answer[:DIGEST_SIZE]
    content = p.files.get(digest)
    if content is None:
        raise GuestError(f"the recording lacks the content of {f.path} (mapped by mmap)")
    size = page_up(length)
    entry = None
    if shared:
        entry = _shared_entry(p, answer, addr if flags & MAP_FIXED else None, size, offset, prot)
        if entry is None:
            return -ENODEV
        entry.may_write = may_write
    if (
        entry is None
        and flags & MAP_FIXED
        and p.mem.remap_in_place(addr, addr + size, prot, digest, offset, content)
    ):
        result = addr
    else:
        result = p.mem.do_mmap(addr, length, prot, flags)
        if result < 0:
            return result
        # Whole pages show the file; the part of the last page past its end reads as zeros,
        # and the pages after it raise SIGBUS.
        p.m.write(result, content[offset : offset + size])
    p.mem.add_view(result, result + size, digest, offset)
    file_end = result + max(0, page_up(len(content)) - offset)
    p.mem.add_file_mapping(result, result + size, file_end)
    if entry is not None:
        entry.start, entry.end = result, result + size
        p.mem.add_shared_mapping(entry, len(content))
    return result


def _shared_entry(
    p: LinuxPlatform, answer: bytes, fixed: int | None, size: int, offset: int, prot: int
) -> SharedMap | None:
    """The shared mapping the host's answer names (its file ident checked against those the
    guest maps), or None when the file's pages would show at two places that can diverge:
    ttdbg keeps one copy per mapping, Linux one per file, so an overlap where either side is
    writable is refused (ENODEV) rather than shown stale. Read-only ones both show the file
    (its changes reach every mapping of it)."""
    tail = answer[DIGEST_SIZE + 8 :]
    shared = p.mem.shared
    if len(tail) not in (0, 4):
        raise DivergenceError(p.syscall_icount, "a shared mapping's file ident", answer.hex())
    # No ident: recorded when shared mappings were read-only, each its own file.
    ident = int.from_bytes(tail, "little") if tail else shared.next_ident
    if ident != shared.next_ident and ident not in shared.sizes:
        raise DivergenceError(
            p.syscall_icount, f"a known file ident ({shared.next_ident})", f"{ident}"
        )
    for other in shared.of_file(ident):
        if fixed is not None and fixed <= other.start and other.end <= fixed + size:
            continue  # replaced by this mapping
        if not (prot | other.prot) & PROT_WRITE:
            continue
        lo, hi = other.file_range(other.start, other.end)
        if lo < offset + size and offset < hi:
            return None
    return SharedMap(0, 0, offset, ident, prot & 7, False)


@syscall("munmap", kind=Kind.EMULATED)
def sys_munmap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_munmap(a[0], a[1])


@syscall("mprotect", kind=Kind.EMULATED)
def sys_mprotect(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mprotect(a[0], a[1], a[2])


@syscall("mremap", kind=Kind.EMULATED)
def sys_mremap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mremap(a[0], a[1], a[2], a[3])


MADV_DONTNEED, MADV_REMOVE = 4, 9
# Advice whose only effect is on the host kernel's caching and paging, never on the values a
# single-threaded process reads back.
MADV_HINTS = frozenset((0, 1, 2, 3, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23))


@syscall("madvise", kind=Kind.EMULATED)
def sys_madvise(p: LinuxPlatform, a: Args) -> int:
    start, length, advice = a
    if start % PAGE:
        return -EINVAL
    length = (length + PAGE - 1) & ~(PAGE - 1)
    if advice not in MADV_HINTS and advice not in (MADV_DONTNEED, MADV_REMOVE):
        return -EINVAL
    if length and not p.m.is_mapped(start, length):
        return -ENOMEM  # a hole in the range, whatever the advice, as Linux answers
    if advice == MADV_REMOVE:
        # Linux punches a hole in a shared file mapping's file; a private mapping takes no
        # such advice. ttdbg does neither (the file system "cannot punch holes").
        return -EOPNOTSUPP if p.mem.shared.overlapping(start, start + length) else -EINVAL
    if advice == MADV_DONTNEED:
        _drop_pages(p, start, start + length)
    return 0


def _drop_pages(p: LinuxPlatform, start: int, end: int) -> None:
    """MADV_DONTNEED as Linux's: private anonymous pages read back as zeros, private file
    pages as their file's bytes again (the mapped content), shared file pages as they are
    (they show the file, stores included)."""
    shared = [(m.start, m.end) for m in p.mem.shared.overlapping(start, end)]
    private = [[start, end]]
    for lo, hi in shared:
        private = cut(private, lo, hi)
    for lo, hi in private:
        p.m.zero(lo, hi - lo)
    for v_start, v_end, hexdigest, offset in p.mem.views:
        for lo, hi in private:
            lo, hi = max(lo, v_start), min(hi, v_end)
            if lo >= hi:
                continue
            content = p.files.get(bytes.fromhex(hexdigest))
            if content is None:
                raise GuestError("the recording lacks the content of a mapped file (madvise)")
            # Past the file's end the pages read zeros (or take no access): nothing to write.
            p.m.write(lo, content[offset + lo - v_start : offset + hi - v_start])


MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4


@syscall("msync", kind=Kind.EMULATED)
def sys_msync(p: LinuxPlatform, a: Args) -> int:
    """Stores into shared file mappings reach their files (written back while recording;
    the result, which says whether a write-back failed, comes from the log in replay)."""
    start, length, flags = a[0], a[1], a[2]
    both = MS_ASYNC | MS_SYNC
    if start % PAGE or flags & ~(both | MS_INVALIDATE) or flags & both == both:
        return -EINVAL
    end = page_up(start + length)
    if end > start and not p.m.is_mapped(start, end - start):
        return -ENOMEM
    maps = [entry for entry in p.mem.shared.overlapping(start, end) if entry.may_write]
    if not maps:
        return 0  # nothing there is written back to a file
    sync = bool(flags & MS_SYNC)
    return p.host_call(lambda: (p.live.shared.sync(p.m, maps, start, end, sync), b""))[0]


@syscall("mlock", "munlock", kind=Kind.EMULATED)
def sys_mlock(p: LinuxPlatform, a: Args) -> int:
    """Every page is resident here already; what locking changes that the process sees is
    /proc/self/status's VmLck, so the locked ranges are kept."""
    start = a[0] & ~(PAGE - 1)
    length = (a[0] + a[1] + PAGE - 1) // PAGE * PAGE - start
    if length == 0:
        return 0
    if not p.m.is_mapped(start, length):
        return -ENOMEM
    if p.syscall_nr == p.arch.syscall_numbers.get("mlock"):
        p.mem.lock(start, start + length)
    else:
        p.mem.unlock(start, start + length)
    return 0


@syscall("mincore", kind=Kind.EMULATED)
def sys_mincore(p: LinuxPlatform, a: Args) -> int:
    """Every mapped page counts as resident: the guest's memory all lives in the host's
    (Linux reports 0 for anonymous pages never touched; see the README)."""
    start, length, vec = a[0], a[1], a[2]
    if start % PAGE:
        return -EINVAL
    pages = page_up(length) // PAGE
    if pages == 0:
        return 0
    if not p.m.is_mapped(start, pages * PAGE):
        return -ENOMEM
    p.m.write(vec, b"\1" * pages)
    return 0


@syscall("sched_yield", kind=Kind.NOOP, why="one thread: there is nobody to yield the CPU to")
@syscall(
    "set_robust_list",
    kind=Kind.NOOP,
    why="the list is read only when a thread exits holding a lock; one thread never does",
)
def sys_nothing(p: LinuxPlatform, a: Args) -> int:
    return 0


@syscall("sync", kind=Kind.HOST)
def sys_sync(p: LinuxPlatform, a: Args) -> int:
    return p.host_call(lambda: p.live.path_op(os.sync))[0]
