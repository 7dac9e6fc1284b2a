"""The address space: brk, mmap, munmap, mprotect, mremap and the no-op advice calls."""

from __future__ import annotations

from ..memory import MAP_ANONYMOUS
from ..platform import LinuxPlatform
from .table import EBADF, Args, open_file, syscall


@syscall("brk")
def sys_brk(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_brk(a[0])


@syscall("mmap")
def sys_mmap(p: LinuxPlatform, a: Args) -> int:
    addr, length, prot, flags, fd, offset = a
    f = None
    if not flags & MAP_ANONYMOUS:
        f = open_file(p, fd)
        if f is None:
            return -EBADF
    result = p.mem.do_mmap(addr, length, prot, flags)
    if result >= 0 and f is not None:
        got, data = p.host_call(lambda: p.live.pread(f, length, offset))
        if got > 0:
            p.m.write(result, data)
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
