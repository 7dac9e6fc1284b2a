"""The Linux syscall table and what its handlers share: registration, kinds, argument helpers.

A handler reads its arguments from guest memory, asks the outside world only through
`Platform.host_call` (logged when recording, replayed from the log), and applies the answer to
the guest in the same way in both modes. It returns the syscall's result (negative errno on
failure), or None when it set the registers itself.

Every row declares its kind (the fidelity policy, enforced by tests/unit/test_syscall_policy.py):
a call is performed on the host during record, emulated from the guest's own state with Linux's
observable effect, a no-op whose effect Linux itself does not let a single process observe (with
the reason), or refused with a message. A number with no row returns ENOSYS and is counted.
Arguments reach the handler decoded by the C types in `signatures.py`: an `int` arrives as a
signed 32-bit value, an `unsigned int` as 32 bits, a pointer or `size_t` as 64 bits.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errnos import (  # noqa: F401 - the calls import them from here
    EACCES,
    EAGAIN,
    EBADF,
    EFAULT,
    EINVAL,
    EISDIR,
    ENOENT,
    ENOSYS,
    ENOTDIR,
    ENOTTY,
    EOPNOTSUPP,
    EPERM,
    ERANGE,
    ESPIPE,
    ESRCH,
)
from ..fdtable import OpenFile
from ..host import HostIO, Outcome
from ..platform import LinuxPlatform
from .signatures import decoder

Args = tuple[int, ...]
Handler = Callable[[LinuxPlatform, Args], "int | None"]

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_EMPTY_PATH = 0x100, 0x200, 0x1000
O_RDONLY, O_RDWR, O_DIRECTORY, O_CLOEXEC, O_ACCMODE = 0, 2, 0o200000, 0o2000000, 3
O_APPEND = 0o2000  # the same bit on x86-64, AArch64 and RISC-V 64 (and on the host)
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 5, 6, 7, 36, 37, 38
TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD = 0x5401, 0x5413, 0x540F, 0x541B
FIONBIO, FIONCLEX, FIOCLEX = 0x5421, 0x5450, 0x5451
O_NONBLOCK = 0o4000  # the same bit on x86-64, AArch64 and RISC-V 64 (and on the host)
IOCTL_SIZES = {TCGETS: 60, TIOCGWINSZ: 8, TIOCGPGRP: 4, FIONREAD: 4}
STDIO_KINDS = ("stdin", "stdout", "stderr")


class Kind(enum.Enum):
    """How a syscall reaches its effect."""

    HOST = "host"  # performed on the host during record; result and guest-visible data logged
    EMULATED = "emulated"  # computed from the guest's own state, as Linux would
    NOOP = "no-op"  # Linux's effect is not observable by this single-threaded process
    REFUSED = "refused"  # ends the recording with a message naming the call


@dataclass(frozen=True)
class Row:
    """One entry of the syscall table."""

    name: str
    kind: Kind
    handler: Handler
    why: str = ""  # for NOOP rows: why doing nothing is what Linux shows this process


SYSCALLS: dict[str, Handler] = {}
ROWS: dict[str, Row] = {}


def _decoded(name: str, fn: Handler) -> Handler:
    decode = decoder(name)
    if decode is None:
        return fn
    return lambda p, a: fn(p, decode(a))


H = TypeVar("H", bound=Handler)


def syscall(*names: str, kind: Kind, why: str = "") -> Callable[[H], H]:
    """Register a handler under one or more syscall names, with its kind."""

    def register(fn: H) -> H:
        for name in names:
            SYSCALLS[name] = _decoded(name, fn)
            ROWS[name] = Row(name, kind, fn, why)
        return fn

    return register


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


@dataclass(frozen=True)
class GuestPath:
    """A path a call names, and the open directory it is relative to (None: the cwd)."""

    base: OpenFile | None
    path: str


def at_path(p: LinuxPlatform, dirfd: int, path_addr: int) -> GuestPath | int:
    """The path a *at() call names, or a negative errno (a bad dirfd; ENOENT for "")."""
    path = guest_path(p, path_addr)
    if not path:
        return -ENOENT
    if path.startswith("/") or fd_arg(dirfd) == AT_FDCWD:
        return GuestPath(None, path)
    f = p.fds.get(fd_arg(dirfd))
    return -EBADF if f is None else GuestPath(f, path)


def open_file(p: LinuxPlatform, fd: int) -> OpenFile | None:
    return p.fds.get(fd_arg(fd))


def host_into(p: LinuxPlatform, buf: int, ask: Callable[[HostIO], Outcome]) -> int:
    """A call whose host answer is a structure copied to `buf` when it succeeds."""
    result, data = p.host_call(lambda: ask(p.live))
    if result == 0:
        p.m.write(buf, data)
    return result
