"""Opening, closing and duplicating file descriptors; fcntl and ioctl."""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Callable
from functools import partial

from ..fdtable import OpenFile
from ..host import Outcome, libc_fd_call
from ..platform import LinuxPlatform
from . import procfs
from .table import (
    AT_FDCWD,
    EACCES,
    EBADF,
    EINVAL,
    EISDIR,
    ENOENT,
    ENOTDIR,
    ENOTTY,
    EPERM,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETFD,
    F_SETFL,
    F_SETLK,
    F_SETLKW,
    FIOCLEX,
    FIONBIO,
    FIONCLEX,
    FIONREAD,
    IOCTL_SIZES,
    O_ACCMODE,
    O_APPEND,
    O_CLOEXEC,
    O_DIRECTORY,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    STDIO_KINDS,
    Args,
    Kind,
    at_path,
    fd_arg,
    open_file,
    syscall,
)

# Open flags whose bits differ between the guest's architecture and the host's (x86-64).
HOST_OPEN_FLAGS = {
    "aarch64": {0o40000: 0o200000, 0o100000: 0o400000, 0o200000: 0o40000, 0o400000: 0o100000},
}


def host_open_flags(p: LinuxPlatform, flags: int) -> int:
    """The guest's open flags as the host spells them (O_DIRECTORY, O_NOFOLLOW, ...)."""
    swaps = HOST_OPEN_FLAGS.get(p.arch.name)
    if not swaps:
        return flags
    out = flags & ~sum(swaps)
    for guest_bit, host_bit in swaps.items():
        if flags & guest_bit:
            out |= host_bit
    return out


# The host's open flags as the guest's architecture spells them: every entry of
# HOST_OPEN_FLAGS is a two-way swap, so the mapping is its own inverse.
guest_open_flags = host_open_flags


# What open() keeps out of the description's flags (f_flags): they act at open only.
OPEN_ONLY = os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_TRUNC
HOST_O_LARGEFILE = 0o100000  # x86-64's; a 64-bit kernel sets it on every open() file
OPENED_KINDS = ("file", "dir", *procfs.KINDS)
# F_SETFL changes only these (as the host spells them); the access mode and the rest stay as
# open() left them.
HOST_SETFL_MASK = os.O_APPEND | os.O_NONBLOCK | os.O_ASYNC | os.O_DIRECT | os.O_NOATIME


def _getfl(p: LinuxPlatform, f: OpenFile) -> int:
    """F_GETFL as Linux answers it: the description's flags without those open() consumed,
    O_LARGEFILE on what open() made."""
    if f.kind in STDIO_KINDS:
        result = p.host_call(lambda: p.live.fcntl_getfl(f))[0]
        return result if result < 0 else guest_open_flags(p, result)
    flags = f.flags & ~guest_open_flags(p, OPEN_ONLY)
    if f.kind in OPENED_KINDS:
        flags |= guest_open_flags(p, HOST_O_LARGEFILE)
    return flags


def _install(p: LinuxPlatform, kind: str, path: str, flags: int, host_fd: list[int]) -> int:
    """Give an opened description the lowest free guest fd (and its host fd, if any)."""
    fd = p.fds.open(kind, path, flags & ~O_CLOEXEC, bool(flags & O_CLOEXEC))
    if fd < 0 and host_fd:
        os.close(host_fd[0])
    elif p.host is not None and host_fd:
        p.host.adopt(p.fds.files[fd].ident, host_fd[0])
    return fd


def _host_opened(
    p: LinuxPlatform, open_: Callable[[], tuple[int, bytes]], kept: list[int]
) -> Outcome:
    """Run a host open; the host fd stays out of the log, which keeps only the file's kind."""
    result, _ = open_()
    if result < 0:
        return result, b""
    kept.append(result)
    return 0, b"dir" if os.path.isdir(f"/proc/self/fd/{result}") else b"file"


def open_host_object(
    p: LinuxPlatform, kind: str, path: str, flags: int, open_: Callable[[], Outcome]
) -> int:
    """A description the host creates with no path (an epoll instance, a memfd) under the
    lowest free guest fd; the host fd stays out of the log."""
    kept: list[int] = []

    def run() -> Outcome:
        result, _ = open_()
        if result < 0:
            return result, b""
        kept.append(result)
        return 0, b""

    result, _ = p.host_call(run)
    return result if result < 0 else _install(p, kind, path, flags, kept)


MFD_CLOEXEC = 1
MFD_NAME_MAX = 249


@syscall("memfd_create", kind=Kind.HOST)
def sys_memfd_create(p: LinuxPlatform, a: Args) -> int:
    """An anonymous file: a host memfd while recording, read and written like any file (what
    the guest reads back is logged)."""
    name = os.fsdecode(p.m.read_cstring(a[0]))
    if len(os.fsencode(name)) > MFD_NAME_MAX:
        return -EINVAL
    flags = O_RDWR | (O_CLOEXEC if a[1] & MFD_CLOEXEC else 0)
    path = f"/memfd:{name} (deleted)"
    return open_host_object(p, "file", path, flags, lambda: p.live.memfd(name, a[1]))


def _open(p: LinuxPlatform, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    gp = at_path(p, dirfd, path_addr)
    if isinstance(gp, int):
        return gp
    full = procfs.normalize(p, gp.path, gp.base)
    emulated = procfs.classify(p, full)
    if emulated is not None:
        return _open_emulated(p, emulated, full, flags)
    opened: list[int] = []
    host_flags = host_open_flags(p, flags)

    def host() -> Outcome:
        result, kind = _host_opened(
            p, lambda: p.live.open(gp.base, gp.path, host_flags, mode), opened
        )
        if result != -EACCES:
            return result, kind
        # Refused for reaching the recorder's own /proc through a symlink (/etc/mtab is
        # ../proc/self/mounts): where it leads, which is the guest's own entry.
        follow = not host_flags & os.O_NOFOLLOW
        return p.live.own_proc_path(gp.path, p.live.dir_fd(gp.base), follow)

    result, kind = p.host_call(host)
    if result < 0:
        return result
    if kind.startswith(b"/"):
        proc = os.fsdecode(kind)
        emulated = procfs.classify(p, proc) if proc.startswith("/proc/") else None
        return -EACCES if emulated is None else _open_emulated(p, emulated, proc, flags)
    return _install(p, kind.decode(), full, flags, opened)


def _open_emulated(p: LinuxPlatform, target: procfs.ProcPath | str, path: str, flags: int) -> int:
    """open() of the guest's own /proc entries and the /sys CPU lists."""
    writing = flags & O_ACCMODE != O_RDONLY
    if isinstance(target, str):
        return -EACCES if writing else _install_text(p, procfs.PROC_FILE, path, flags, target)
    entry = target.entry
    if entry.startswith("\0"):
        return -ENOENT
    if entry.startswith("fd/"):
        number = entry[3:]
        if not number.isdigit():
            return -ENOTDIR if "/" in number else -ENOENT
        f = p.fds.get(int(number))
        if f is None:
            return -ENOENT
        if f.kind in procfs.KINDS:
            return _install_text(p, f.kind, f.path, flags, f.data)
        opened: list[int] = []
        host_flags = host_open_flags(p, flags)
        result, kind = p.host_call(
            lambda: _host_opened(p, lambda: p.live.reopen(f, host_flags), opened)
        )
        if result < 0:
            return result
        same = f.kind if f.kind in STDIO_KINDS or f.kind == "pipe" else kind.decode()
        return _install(p, same, f.path, flags, opened)
    entries = procfs.dir_entries(p, entry)
    if entries is not None:
        text = "".join(f"{ino} {dtype} {name}\n" for ino, dtype, name in entries)
        return -EISDIR if writing else _install_text(p, procfs.PROC_DIR, path, flags, text)
    if host_open_flags(p, flags) & O_DIRECTORY:
        return -ENOTDIR if procfs.file_text(p, entry) is not None else -EACCES
    if writing:
        return -EACCES
    data = procfs.file_text(p, entry)
    if data is None:
        return -EACCES
    return _install_text(p, procfs.PROC_FILE, path, flags, data.decode("latin-1"))


def _install_text(p: LinuxPlatform, kind: str, path: str, flags: int, text: str) -> int:
    fd = p.fds.open(kind, path, flags & ~O_CLOEXEC, bool(flags & O_CLOEXEC))
    if fd >= 0:
        p.fds.files[fd].data = text
    return fd


@syscall("open", kind=Kind.HOST)
def sys_open(p: LinuxPlatform, a: Args) -> int:
    return _open(p, AT_FDCWD, a[0], a[1], a[2])


@syscall("creat", kind=Kind.HOST)
def sys_creat(p: LinuxPlatform, a: Args) -> int:
    return _open(p, AT_FDCWD, a[0], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, a[1])


@syscall("openat", kind=Kind.HOST)
def sys_openat(p: LinuxPlatform, a: Args) -> int:
    return _open(p, a[0], a[1], a[2], a[3])


@syscall("close", kind=Kind.EMULATED)
def sys_close(p: LinuxPlatform, a: Args) -> int:
    f = p.fds.close(fd_arg(a[0]))
    if f is None:
        return -EBADF
    if p.host is not None and not p.fds.is_shared(f.ident):
        p.host.release(f.ident)
    return 0


@syscall("dup", kind=Kind.EMULATED)
def sys_dup(p: LinuxPlatform, a: Args) -> int:
    return p.fds.dup(fd_arg(a[0]))


@syscall("dup2", "dup3", kind=Kind.EMULATED)
def sys_dup2(p: LinuxPlatform, a: Args) -> int:
    old, new = fd_arg(a[0]), fd_arg(a[1])
    is_dup3 = p.syscall_nr == p.arch.syscall_numbers.get("dup3")
    if open_file(p, old) is None or new < 0:
        return -EBADF
    if old == new:
        return -EINVAL if is_dup3 else new
    if open_file(p, new) is not None:
        sys_close(p, (new,))
    return p.fds.dup(old, new, cloexec=is_dup3 and bool(a[2] & O_CLOEXEC))


# struct flock is the same 32 bytes on every 64-bit architecture ttdbg runs.
FLOCK_SIZE = 32
LOCK_COMMANDS = frozenset((F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW))


def _record_lock(p: LinuxPlatform, f: OpenFile, cmd: int, addr: int) -> int:
    """A POSIX or OFD record lock, taken on the host file; F_GETLK's answer is logged."""
    flock = p.m.read(addr, FLOCK_SIZE)
    if f.kind in procfs.KINDS:
        got, answer = procfs.record_lock(f, cmd, flock)
        if answer is not None:
            p.m.write(addr, answer)
        return got
    result, data = p.host_call(lambda: p.live.record_lock(f, cmd, flock))
    if result == 0 and cmd in (F_GETLK, F_OFD_GETLK):
        p.m.write(addr, data)
    return result


@syscall("fcntl", kind=Kind.HOST)
def sys_fcntl(p: LinuxPlatform, a: Args) -> int:
    fd, cmd, arg = a[0], a[1], a[2]
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    if cmd in LOCK_COMMANDS:
        return _record_lock(p, f, cmd, arg)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return p.fds.dup(fd, cloexec=cmd == F_DUPFD_CLOEXEC, start=arg)
    if cmd == F_GETFD:
        return 1 if fd in p.fds.cloexec else 0
    if cmd == F_SETFD:
        (p.fds.cloexec.add if arg & 1 else p.fds.cloexec.discard)(fd)
        return 0
    if cmd == F_GETFL:
        return _getfl(p, f)
    if cmd == F_SETFL:
        mask = guest_open_flags(p, HOST_SETFL_MASK)
        return set_status(p, f, (f.flags & ~mask) | (arg & mask))
    return -EINVAL


def _set_on_host(p: LinuxPlatform, f: OpenFile, bit: int, on: bool) -> Outcome:
    return p.live.set_status_flag(f, bit, on)


def set_status(p: LinuxPlatform, f: OpenFile, flags: int) -> int:
    """New status flags for a description (F_SETFL, FIONBIO). Appending and not waiting are
    done by the host descriptor behind it, which gets those bits too."""
    changed = flags ^ f.flags
    on_host = O_APPEND if f.kind == "file" else 0
    if f.kind not in procfs.KINDS:
        on_host |= O_NONBLOCK
    for bit in (O_APPEND, O_NONBLOCK):
        if changed & on_host & bit:
            result, _ = p.host_call(partial(_set_on_host, p, f, bit, bool(flags & bit)))
            if result < 0:
                return result
    f.flags = flags
    return 0


@syscall("ioctl", kind=Kind.HOST)
def sys_ioctl(p: LinuxPlatform, a: Args) -> int:
    fd, request, argp = a[0], a[1] & 0xFFFFFFFF, a[2]
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    if request in (FIOCLEX, FIONCLEX):
        (p.fds.cloexec.add if request == FIOCLEX else p.fds.cloexec.discard)(fd_arg(fd))
        return 0
    if request == FIONBIO:
        on = struct.unpack("<i", p.m.read(argp, 4))[0]
        return set_status(p, f, f.flags | O_NONBLOCK if on else f.flags & ~O_NONBLOCK)
    size = IOCTL_SIZES.get(request)
    if size is None:
        # What Linux answers a request the file does not know; ttdbg performs only those
        # above and in IOCTL_SIZES, and refuses the rest the same way.
        return -ENOTTY
    if f.kind in procfs.KINDS:
        # /proc's entries are no terminals; a file's FIONREAD counts from its size, 0.
        count = procfs.fionread(f) if request == FIONREAD else None
        if count is None:
            return -ENOTTY
        p.m.write(argp, struct.pack("<i", count))
        return 0
    result, data = p.host_call(lambda: p.live.ioctl(f, request, size))
    if len(data) > size:
        # Only from an altered log (the host fills `size` bytes): a divergence, reported
        # by the platform before anything past the request's struct is written.
        raise ValueError(f"{len(data)} bytes for an ioctl of {size}")
    if result >= 0 and data:
        p.m.write(argp, data)
    return result


def _fd_op(p: LinuxPlatform, fd: int, op: Callable[[int], object], emulated: int) -> int:
    """A call on an open file that changes the host file and returns only a status;
    `emulated` is Linux's answer for an emulated /proc entry, which has no host file."""
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    if f.kind in procfs.KINDS:
        return emulated
    return p.host_call(lambda: p.live.fd_op(f, op))[0]


@syscall("ftruncate", kind=Kind.HOST)
def sys_ftruncate(p: LinuxPlatform, a: Args) -> int:
    if a[1] < 0:
        return -EINVAL
    return _fd_op(p, a[0], lambda h: os.ftruncate(h, a[1]), -EINVAL)


# /proc's entries have no page cache to write back or advise, and refuse mode changes.
@syscall("fsync", kind=Kind.HOST)
def sys_fsync(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], os.fsync, -EINVAL)


@syscall("fdatasync", kind=Kind.HOST)
def sys_fdatasync(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], os.fdatasync, -EINVAL)


@syscall("fchmod", kind=Kind.HOST)
def sys_fchmod(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], lambda h: os.fchmod(h, a[1] & 0o7777), -EPERM)


@syscall("fchown", kind=Kind.HOST)
def sys_fchown(p: LinuxPlatform, a: Args) -> int:
    uid, gid = owner_arg(a[1]), owner_arg(a[2])
    # Changing nothing succeeds on /proc as anywhere; a real change is refused there.
    unchanged = 0 if uid == gid == -1 else -EPERM
    return _fd_op(p, a[0], lambda h: os.fchown(h, uid, gid), unchanged)


@syscall("flock", kind=Kind.HOST)
def sys_flock(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], lambda h: fcntl.flock(h, a[1]), procfs.flock(a[1]))


FADVISE_MAX = 5  # POSIX_FADV_NORMAL .. POSIX_FADV_NOREUSE


@syscall("fadvise64", kind=Kind.HOST)
def sys_fadvise64(p: LinuxPlatform, a: Args) -> int:
    # Valid advice on /proc is accepted and has nothing to act on, as on Linux.
    valid = 0 if 0 <= a[3] <= FADVISE_MAX and a[2] >= 0 else -EINVAL
    return _fd_op(p, a[0], lambda h: os.posix_fadvise(h, a[1], a[2], a[3]), valid)


# Calls that act on an open file's storage, with Linux's answer for an emulated /proc entry
# (opened read-only: nothing to allocate; nothing to write back; a directory has no pages to
# read ahead).
@syscall("fallocate", kind=Kind.HOST)
def sys_fallocate(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], lambda h: libc_fd_call("fallocate", h, *a[1:4]), -EBADF)


@syscall("sync_file_range", kind=Kind.HOST)
def sys_sync_file_range(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], lambda h: libc_fd_call("sync_file_range", h, *a[1:4]), 0)


@syscall("syncfs", kind=Kind.HOST)
def sys_syncfs(p: LinuxPlatform, a: Args) -> int:
    return _fd_op(p, a[0], lambda h: libc_fd_call("syncfs", h), 0)


@syscall("readahead", kind=Kind.HOST)
def sys_readahead(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    emulated = -EINVAL if f is not None and f.kind == procfs.PROC_DIR else 0
    return _fd_op(p, a[0], lambda h: libc_fd_call("readahead", h, *a[1:3]), emulated)


def owner_arg(value: int) -> int:
    """A uid_t or gid_t argument: (uid_t)-1 means "leave unchanged", as Python spells -1."""
    return -1 if value == 0xFFFFFFFF else value
