"""File metadata and paths: stat and friends, readlink, access, getcwd, path changes."""

from __future__ import annotations

import os

from ..platform import LinuxPlatform
from .table import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    EBADF,
    ERANGE,
    SYSCALLS,
    Args,
    Handler,
    dir_path,
    guest_path,
    open_file,
    syscall,
)


@syscall("fstat")
def sys_fstat(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    result, data = p.host_call(lambda: p.live.fstat(f))
    if result == 0:
        p.m.write(a[1], data)
    return result


def _stat_at(
    p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, flags: int, statx: bool
) -> int:
    path = guest_path(p, path_addr)
    if not path and flags & AT_EMPTY_PATH:
        f = open_file(p, dirfd)
        if f is None:
            return -EBADF
        result, data = p.host_call(lambda: p.live.fstat(f, statx))
    else:
        base = dir_path(p, dirfd)
        full = path if base is None or path.startswith("/") else f"{base}/{path}"
        follow = not flags & AT_SYMLINK_NOFOLLOW
        result, data = p.host_call(lambda: p.live.stat(full, follow, statx))
    if result == 0:
        p.m.write(buf, data)
    return result


@syscall("stat")
def sys_stat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], 0, False)


@syscall("lstat")
def sys_lstat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW, False)


@syscall("newfstatat")
def sys_newfstatat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[2], a[3], False)


@syscall("statx")
def sys_statx(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[4], a[2], True)


def _readlink(p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, size: int) -> int:
    path = guest_path(p, path_addr)
    base = dir_path(p, dirfd)
    full = path if base is None or path.startswith("/") else f"{base}/{path}"
    result, data = p.host_call(lambda: p.live.readlink(full, size))
    if result > 0:
        p.m.write(buf, data)
    return result


@syscall("readlink")
def sys_readlink(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, AT_FDCWD, a[0], a[1], a[2])


@syscall("readlinkat")
def sys_readlinkat(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, a[0], a[1], a[2], a[3])


@syscall("access")
def sys_access(p: LinuxPlatform, a: Args) -> int:
    path = guest_path(p, a[0])
    return p.host_call(lambda: p.live.access(path, a[1]))[0]


@syscall("faccessat", "faccessat2")
def sys_faccessat(p: LinuxPlatform, a: Args) -> int:
    path = guest_path(p, a[1])
    base = dir_path(p, a[0])
    full = path if base is None or path.startswith("/") else f"{base}/{path}"
    return p.host_call(lambda: p.live.access(full, a[2]))[0]


@syscall("getcwd")
def sys_getcwd(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.getcwd())
    if result < 0:
        return result
    if len(data) + 1 > a[1]:
        return -ERANGE
    p.m.write(a[0], data + b"\0")
    return len(data) + 1


def _path_change(fn_name: str, nargs: int) -> Handler:
    """A handler for a syscall that changes the filesystem and returns only a status."""

    def handler(p: LinuxPlatform, a: Args) -> int:
        paths = [guest_path(p, a[i]) for i in range(nargs)]
        extra = a[nargs]
        op = getattr(os, fn_name)

        def run() -> object:
            return op(*paths, extra) if fn_name in ("mkdir", "chmod") else op(*paths)

        return p.host_call(lambda: p.live.path_op(run))[0]

    return handler


SYSCALLS.update(
    {
        "unlink": _path_change("unlink", 1),
        "rmdir": _path_change("rmdir", 1),
        "mkdir": _path_change("mkdir", 1),
        "chmod": _path_change("chmod", 1),
        "rename": _path_change("rename", 2),
        "chdir": _path_change("chdir", 1),
    }
)


@syscall("ftruncate", "fsync", "fdatasync", "fchmod", "fchown", "flock", "fadvise64")
def sys_fd_status(p: LinuxPlatform, a: Args) -> int:
    return 0 if open_file(p, a[0]) is not None else -EBADF
