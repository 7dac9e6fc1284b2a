"""File metadata and paths: stat and friends, readlink, access, getcwd, links, path changes."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ..fdtable import OpenFile
from ..host import HostIO, Outcome, guarded
from ..platform import LinuxPlatform
from ..structs import pack_stat, pack_statx
from . import procfs
from .files import owner_arg, sys_fchown
from .table import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_REMOVEDIR,
    AT_SYMLINK_NOFOLLOW,
    EACCES,
    EBADF,
    EINVAL,
    ENOENT,
    ENOTDIR,
    ERANGE,
    Args,
    GuestPath,
    Kind,
    at_path,
    guest_path,
    host_into,
    open_file,
    syscall,
)

AT_SYMLINK_FOLLOW = 0x400
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _path_call(
    p: LinuxPlatform,
    dirfd: int,
    addr: int,
    op: Callable[[str, int | None], object],
    follow: bool = False,
) -> int:
    """A status-only change of the host filesystem at a path (relative to a guest dirfd);
    `follow`: whether the call follows a symlink in the last component."""
    gp = at_path(p, dirfd, addr)
    if isinstance(gp, int):
        return gp

    def run(h: HostIO) -> Outcome:
        d = h.dir_fd(gp.base)

        def act() -> None:
            h.contain(gp.path, d, follow)
            op(gp.path, d)

        return h.path_op(act)

    return p.host_call(lambda: run(p.live))[0]


def _emulated_stat(p: LinuxPlatform, kind: str, buf: int, statx: bool, ino: int) -> int:
    st = procfs.stat_result(kind, ino=ino, owner=procfs.entry_owner(p))
    p.m.write(buf, pack_statx(st) if statx else pack_stat(st, p.arch.stat_layout))
    return 0


def _fstat(p: LinuxPlatform, f: OpenFile, buf: int, statx: bool) -> int:
    if f.kind in procfs.KINDS:
        target = procfs.classify(p, f.path)
        ino = procfs.inode(target) if target is not None else procfs.SELF_INO
        return _emulated_stat(p, f.kind, buf, statx, ino)
    return host_into(p, buf, lambda h: h.fstat(f, statx))


def _proc_stat(
    p: LinuxPlatform, target: procfs.ProcPath | str, buf: int, follow: bool, statx: bool
) -> int:
    """stat of an emulated entry; a followed link is its target's stat, as on Linux."""
    kind = procfs.stat_kind(p, target)
    if kind is None:
        return -ENOENT
    if kind != "link" or not follow:
        return _emulated_stat(p, kind, buf, statx, procfs.inode(target))
    assert isinstance(target, procfs.ProcPath)
    entry = target.entry
    if entry.startswith("fd/"):
        f = p.fds.get(int(entry[3:]))
        return -ENOENT if f is None else _fstat(p, f, buf, statx)
    path = {"cwd": ".", "root": "/"}.get(entry)
    return host_into(
        p, buf, lambda h: h.stat(h.program_path if path is None else path, True, statx)
    )


@syscall("fstat", kind=Kind.HOST)
def sys_fstat(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    return _fstat(p, f, a[1], False)


def _stat_at(
    p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, flags: int, statx: bool
) -> int:
    path = guest_path(p, path_addr)
    if not path and flags & AT_EMPTY_PATH:
        if dirfd == AT_FDCWD:
            gp = GuestPath(None, ".")
        else:
            f = open_file(p, dirfd)
            return -EBADF if f is None else _fstat(p, f, buf, statx)
    else:
        found = at_path(p, dirfd, path_addr)
        if isinstance(found, int):
            return found
        gp = found
    follow = not flags & AT_SYMLINK_NOFOLLOW
    target = procfs.classify(p, procfs.normalize(p, gp.path, gp.base))
    if target is not None:
        return _proc_stat(p, target, buf, follow, statx)

    def host(h: HostIO) -> Outcome:
        result, data = h.stat(gp.path, follow, statx, h.dir_fd(gp.base))
        if result != -EACCES:
            return result, data
        # Refused for reaching the recorder's own /proc through a symlink: the guest's
        # own entry there (1: this path, not a struct stat).
        where, path = h.own_proc_path(gp.path, h.dir_fd(gp.base), follow)
        return (where, b"") if where < 0 else (1, path)

    result, data = p.host_call(lambda: host(p.live))
    if result == 1:
        proc = os.fsdecode(data)
        target = procfs.classify(p, proc) if proc.startswith("/proc/") else None
        return -EACCES if target is None else _proc_stat(p, target, buf, follow, statx)
    if result == 0:
        p.m.write(buf, data)
    return result


@syscall("stat", kind=Kind.HOST)
def sys_stat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], 0, False)


@syscall("lstat", kind=Kind.HOST)
def sys_lstat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW, False)


@syscall("newfstatat", kind=Kind.HOST)
def sys_newfstatat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[2], a[3], False)


@syscall("statx", kind=Kind.HOST)
def sys_statx(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[4], a[2], True)


def _readlink(p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, size: int) -> int:
    if size <= 0:
        return -EINVAL
    gp = at_path(p, dirfd, path_addr)
    if isinstance(gp, int):
        return gp
    target = procfs.classify(p, procfs.normalize(p, gp.path, gp.base))
    if isinstance(target, str):
        return -EINVAL  # an emulated /sys file, not a link
    if target is not None:
        link = procfs.link_target(p, target.entry)
        if isinstance(link, int):
            return -EINVAL if link == -EACCES and target.entry in procfs.FILES else link
        p.m.write(buf, link[:size])
        return min(len(link), size)
    result, data = p.host_call(lambda: p.live.readlink(gp.path, size, p.live.dir_fd(gp.base)))
    if result > 0:
        p.m.write(buf, data)
    return result


@syscall("readlink", kind=Kind.HOST)
def sys_readlink(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, AT_FDCWD, a[0], a[1], a[2])


@syscall("readlinkat", kind=Kind.HOST)
def sys_readlinkat(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, a[0], a[1], a[2], a[3])


def _access(p: LinuxPlatform, dirfd: int, addr: int, mode: int, flags: int) -> int:
    gp = at_path(p, dirfd, addr)
    if isinstance(gp, int):
        return gp
    follow = not flags & AT_SYMLINK_NOFOLLOW
    target = procfs.classify(p, procfs.normalize(p, gp.path, gp.base))
    if target is not None:
        if procfs.stat_kind(p, target) is None:
            return -ENOENT
        return -EACCES if mode & 2 else 0  # W_OK: the emulated entries are read-only
    return p.host_call(
        lambda: p.live.access(gp.path, mode, p.live.dir_fd(gp.base), follow, bool(flags & 0x200))
    )[0]


@syscall("access", kind=Kind.HOST)
def sys_access(p: LinuxPlatform, a: Args) -> int:
    return _access(p, AT_FDCWD, a[0], a[1], 0)


@syscall("faccessat", kind=Kind.HOST)
def sys_faccessat(p: LinuxPlatform, a: Args) -> int:
    return _access(p, a[0], a[1], a[2], 0)


@syscall("faccessat2", kind=Kind.HOST)
def sys_faccessat2(p: LinuxPlatform, a: Args) -> int:
    return _access(p, a[0], a[1], a[2], a[3])


@syscall("getcwd", kind=Kind.HOST)
def sys_getcwd(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.getcwd())
    if result < 0:
        return result
    if len(data) + 1 > a[1]:
        return -ERANGE
    p.m.write(a[0], data + b"\0")
    return len(data) + 1


@syscall("chdir", kind=Kind.HOST)
def sys_chdir(p: LinuxPlatform, a: Args) -> int:
    return _path_call(p, AT_FDCWD, a[0], lambda path, _d: os.chdir(path), follow=True)


@syscall("fchdir", kind=Kind.HOST)
def sys_fchdir(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    if f.kind == procfs.PROC_FILE:
        return -ENOTDIR
    if f.kind == procfs.PROC_DIR:
        # The cwd would have to be an emulated directory, which relative paths cannot
        # start from here: refused, as a directory the process may not enter is.
        return -EACCES
    return p.host_call(lambda: p.live.fd_op(f, os.fchdir))[0]


@syscall("mkdir", kind=Kind.HOST)
def sys_mkdir(p: LinuxPlatform, a: Args) -> int:
    return sys_mkdirat(p, (AT_FDCWD, a[0], a[1]))


@syscall("mkdirat", kind=Kind.HOST)
def sys_mkdirat(p: LinuxPlatform, a: Args) -> int:
    mode = a[2] & 0o7777 & ~p.umask
    return _path_call(p, a[0], a[1], lambda path, d: os.mkdir(path, mode, dir_fd=d))


@syscall("rmdir", kind=Kind.HOST)
def sys_rmdir(p: LinuxPlatform, a: Args) -> int:
    return sys_unlinkat(p, (AT_FDCWD, a[0], AT_REMOVEDIR))


@syscall("unlink", kind=Kind.HOST)
def sys_unlink(p: LinuxPlatform, a: Args) -> int:
    return sys_unlinkat(p, (AT_FDCWD, a[0], 0))


@syscall("unlinkat", kind=Kind.HOST)
def sys_unlinkat(p: LinuxPlatform, a: Args) -> int:
    if a[2] & ~AT_REMOVEDIR:
        return -EINVAL
    remove = os.rmdir if a[2] & AT_REMOVEDIR else os.unlink
    return _path_call(p, a[0], a[1], lambda path, d: remove(path, dir_fd=d))


@syscall("chmod", kind=Kind.HOST)
def sys_chmod(p: LinuxPlatform, a: Args) -> int:
    return sys_fchmodat(p, (AT_FDCWD, a[0], a[1]))


@syscall("fchmodat", kind=Kind.HOST)
def sys_fchmodat(p: LinuxPlatform, a: Args) -> int:
    mode = a[2] & 0o7777
    return _path_call(p, a[0], a[1], lambda path, d: os.chmod(path, mode, dir_fd=d), follow=True)


def _chown(p: LinuxPlatform, dirfd: int, addr: int, uid: int, gid: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -EINVAL
    follow = not flags & AT_SYMLINK_NOFOLLOW
    if flags & AT_EMPTY_PATH and not guest_path(p, addr):
        return sys_fchown(p, (dirfd, uid, gid))
    return _path_call(
        p,
        dirfd,
        addr,
        lambda path, d: os.chown(
            path, owner_arg(uid), owner_arg(gid), dir_fd=d, follow_symlinks=follow
        ),
        follow,
    )


@syscall("chown", kind=Kind.HOST)
def sys_chown(p: LinuxPlatform, a: Args) -> int:
    return _chown(p, AT_FDCWD, a[0], a[1], a[2], 0)


@syscall("lchown", kind=Kind.HOST)
def sys_lchown(p: LinuxPlatform, a: Args) -> int:
    return _chown(p, AT_FDCWD, a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW)


@syscall("fchownat", kind=Kind.HOST)
def sys_fchownat(p: LinuxPlatform, a: Args) -> int:
    return _chown(p, a[0], a[1], a[2], a[3], a[4])


def _rename(p: LinuxPlatform, olddir: int, old: int, newdir: int, new: int, flags: int) -> int:
    src, dst = at_path(p, olddir, old), at_path(p, newdir, new)
    if isinstance(src, int):
        return src
    if isinstance(dst, int):
        return dst

    def run(h: HostIO) -> Outcome:
        return h.rename(src.path, h.dir_fd(src.base), dst.path, h.dir_fd(dst.base), flags)

    return p.host_call(lambda: run(p.live))[0]


@syscall("rename", kind=Kind.HOST)
def sys_rename(p: LinuxPlatform, a: Args) -> int:
    return _rename(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)


@syscall("renameat", kind=Kind.HOST)
def sys_renameat(p: LinuxPlatform, a: Args) -> int:
    return _rename(p, a[0], a[1], a[2], a[3], 0)


@syscall("renameat2", kind=Kind.HOST)
def sys_renameat2(p: LinuxPlatform, a: Args) -> int:
    return _rename(p, a[0], a[1], a[2], a[3], a[4])


def _link(p: LinuxPlatform, olddir: int, old: int, newdir: int, new: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        return -EINVAL
    src, dst = at_path(p, olddir, old), at_path(p, newdir, new)
    if isinstance(src, int):
        return src
    if isinstance(dst, int):
        return dst
    follow = bool(flags & AT_SYMLINK_FOLLOW)

    def run(h: HostIO) -> Outcome:
        h.contain(src.path, h.dir_fd(src.base), follow)
        h.contain(dst.path, h.dir_fd(dst.base), False)
        return h.link(src.path, h.dir_fd(src.base), dst.path, h.dir_fd(dst.base), flags)

    return p.host_call(lambda: guarded(lambda: run(p.live)))[0]


@syscall("link", kind=Kind.HOST)
def sys_link(p: LinuxPlatform, a: Args) -> int:
    return _link(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)


@syscall("linkat", kind=Kind.HOST)
def sys_linkat(p: LinuxPlatform, a: Args) -> int:
    return _link(p, a[0], a[1], a[2], a[3], a[4])


def _symlink(p: LinuxPlatform, target_addr: int, newdir: int, new: int) -> int:
    target = guest_path(p, target_addr)
    if not target:
        return -ENOENT
    return _path_call(p, newdir, new, lambda path, d: os.symlink(target, path, dir_fd=d))


@syscall("symlink", kind=Kind.HOST)
def sys_symlink(p: LinuxPlatform, a: Args) -> int:
    return _symlink(p, a[0], AT_FDCWD, a[1])


@syscall("symlinkat", kind=Kind.HOST)
def sys_symlinkat(p: LinuxPlatform, a: Args) -> int:
    return _symlink(p, a[0], a[1], a[2])


def _timespecs(p: LinuxPlatform, addr: int) -> tuple[tuple[int, int], tuple[int, int]] | int:
    """The two struct timespec of utimensat, or -EINVAL when a tv_nsec is out of range."""
    if not addr:
        return (0, UTIME_NOW), (0, UTIME_NOW)
    sa, na, sm, nm = struct.unpack("<qqqq", p.m.read(addr, 32))
    for nsec in (na, nm):
        if not (0 <= nsec < 1_000_000_000 or nsec in (UTIME_NOW, UTIME_OMIT)):
            return -EINVAL
    return (sa, na), (sm, nm)


def _utimens(
    p: LinuxPlatform, dirfd: int, addr: int, times: tuple[tuple[int, int], ...], flags: int
) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -EINVAL
    follow = not flags & AT_SYMLINK_NOFOLLOW
    f = None
    gp: GuestPath | int = GuestPath(None, "")
    if not addr or (flags & AT_EMPTY_PATH and not guest_path(p, addr)):
        f = open_file(p, dirfd)  # futimens(fd, times): utimensat(fd, NULL, times, 0)
        if f is None:
            return -EBADF
    else:
        gp = at_path(p, dirfd, addr)
        if isinstance(gp, int):
            return gp
    target = gp

    def run(h: HostIO) -> Outcome:
        if f is not None:
            return h.utimens(h.fd(f), None, times, True)
        assert isinstance(target, GuestPath)
        return h.utimens(target.path, h.dir_fd(target.base), times, follow)

    return p.host_call(lambda: run(p.live))[0]


@syscall("utimensat", kind=Kind.HOST)
def sys_utimensat(p: LinuxPlatform, a: Args) -> int:
    times = _timespecs(p, a[2])
    return times if isinstance(times, int) else _utimens(p, a[0], a[1], times, a[3])


def _timevals(p: LinuxPlatform, addr: int) -> tuple[tuple[int, int], ...] | int:
    if not addr:
        return (0, UTIME_NOW), (0, UTIME_NOW)
    sa, ua, sm, um = struct.unpack("<qqqq", p.m.read(addr, 32))
    if not (0 <= ua < 1_000_000 and 0 <= um < 1_000_000):
        return -EINVAL
    return (sa, ua * 1000), (sm, um * 1000)


@syscall("utimes", kind=Kind.HOST)
def sys_utimes(p: LinuxPlatform, a: Args) -> int:
    times = _timevals(p, a[1])
    return times if isinstance(times, int) else _utimens(p, AT_FDCWD, a[0], times, 0)


@syscall("futimesat", kind=Kind.HOST)
def sys_futimesat(p: LinuxPlatform, a: Args) -> int:
    times = _timevals(p, a[2])
    return times if isinstance(times, int) else _utimens(p, a[0], a[1], times, 0)


@syscall("utime", kind=Kind.HOST)
def sys_utime(p: LinuxPlatform, a: Args) -> int:
    if a[1]:
        actime, modtime = struct.unpack("<qq", p.m.read(a[1], 16))
        times: tuple[tuple[int, int], ...] = ((actime, 0), (modtime, 0))
    else:
        times = ((0, UTIME_NOW), (0, UTIME_NOW))
    return _utimens(p, AT_FDCWD, a[0], times, 0)


@syscall("truncate", kind=Kind.HOST)
def sys_truncate(p: LinuxPlatform, a: Args) -> int:
    if a[1] < 0:
        return -EINVAL
    return _path_call(p, AT_FDCWD, a[0], lambda path, _d: os.truncate(path, a[1]), follow=True)


@syscall("statfs", kind=Kind.HOST)
def sys_statfs(p: LinuxPlatform, a: Args) -> int:
    gp = at_path(p, AT_FDCWD, a[0])
    if isinstance(gp, int):
        return gp
    return host_into(p, a[1], lambda h: h.statfs(gp.path))


@syscall("fstatfs", kind=Kind.HOST)
def sys_fstatfs(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    if f.kind in procfs.KINDS:
        return host_into(p, a[1], lambda h: h.statfs("/proc"))
    return host_into(p, a[1], lambda h: h.statfs(h.fd(f)))
