"""The address space: brk, mmap, munmap, mprotect, mremap and the no-op advice calls."""

from __future__ import annotations

from ttdbg.errors import GuestError

from ...filestore import DIGEST_SIZE
from ...machine import PAGE
from ..memory import MAP_ANONYMOUS, page_up
from ..platform import LinuxPlatform
from .table import EBADF, EINVAL, O_ACCMODE, Args, open_file, syscall

EACCES, ENODEV = 13, 19
O_WRONLY, O_RDWR = 1, 2
MAP_SHARED, PROT_WRITE = 0x01, 0x2


@syscall("brk")
def sys_brk(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_brk(a[0])


@syscall("mmap")
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
    if flags & MAP_SHARED and prot & PROT_WRITE:
        if f.flags & O_ACCMODE != O_RDWR:
            return -EACCES  # as Linux: a shared writable mapping needs a file open for writing
        # Writes through a shared mapping would have to reach the file; ttdbg does not
        # write mapped pages back, so it refuses rather than silently dropping them.
        return -ENODEV
    # The file's whole content, stored in the recording once; the log keeps its digest.
    got, answer = p.host_call(lambda: p.live.map_file(f))
    if got < 0:
        return got
    digest = answer[:DIGEST_SIZE]
    content = p.files.get(digest)
    if content is None:
        raise GuestError(f"the recording lacks the content of {f.path} (mapped by mmap)")
    result = p.mem.do_mmap(addr, length, prot, flags)
    if result < 0:
        return result
    size = page_up(length)
    # Whole pages show the file; the part of the last page past its end reads as zeros.
    p.m.write(result, content[offset : offset + size])
    p.mem.add_view(result, result + size, digest, offset)
    return result


@syscall("munmap")
def sys_munmap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_munmap(a[0], a[1])


@syscall("mprotect")
def sys_mprotect(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mprotect(a[0], a[1], a[2])


@syscall("mremap")
def sys_mremap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mremap(a[0], a[1], a[2], a[3])


@syscall("madvise", "msync", "mlock", "munlock", "set_robust_list", "sched_yield", "sync")
def sys_nothing(p: LinuxPlatform, a: Args) -> int:
    return 0
