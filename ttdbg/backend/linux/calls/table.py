"""The Linux syscall table and what its handlers share: registration, argument helpers.

A handler reads its arguments from guest memory, asks the outside world only through
`Platform.host_call` (logged when recording, replayed from the log), and applies the answer to
the guest in the same way in both modes. It returns the syscall's result (negative errno on
failure), or None when it set the registers itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..fdtable import OpenFile
from ..platform import LinuxPlatform

Args = tuple[int, ...]
Handler = Callable[[LinuxPlatform, Args], "int | None"]

EPERM, ENOENT, EBADF, EAGAIN, EFAULT, EINVAL, ENOTTY, ESPIPE, ERANGE, ENOSYS = (
    1, 2, 9, 11, 14, 22, 25, 29, 34, 38,
)  # fmt: skip
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000
O_DIRECTORY, O_CLOEXEC, O_ACCMODE = 0o200000, 0o2000000, 3
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD = 0x5401, 0x5413, 0x540F, 0x541B
IOCTL_SIZES = {TCGETS: 60, TIOCGWINSZ: 8, TIOCGPGRP: 4, FIONREAD: 4}
STDIO_KINDS = ("stdin", "stdout", "stderr")

SYSCALLS: dict[str, Handler] = {}


def syscall(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more syscall names."""

    def register(fn: Handler) -> Handler:
        for name in names:
            SYSCALLS[name] = fn
        return fn

    return register


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def fd_arg(value: int) -> int:
    """A file descriptor argument: the kernel reads only the low 32 bits, as a signed int."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def guest_path(p: LinuxPlatform, addr: int) -> str:
    return os.fsdecode(p.m.read_cstring(addr))


def dir_path(p: LinuxPlatform, dirfd: int) -> str | None:
    """The path a *at() call is relative to, as the host will see it (None for the cwd)."""
    if fd_arg(dirfd) == AT_FDCWD:
        return None
    f = p.fds.get(fd_arg(dirfd))
    return f.path if f else None


def open_file(p: LinuxPlatform, fd: int) -> OpenFile | None:
    return p.fds.get(fd_arg(fd))
