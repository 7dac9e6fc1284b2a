"""Reading and writing: read, write, their vector and positioned forms, pipes, poll."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ..fdtable import OpenFile
from ..host import HostIO, Outcome
from ..platform import LinuxPlatform
from .table import EBADF, EINVAL, O_CLOEXEC, STDIO_KINDS, Args, fd_arg, open_file, signed, syscall


def _read_into(
    p: LinuxPlatform, fd: int, buf: int, op: Callable[[HostIO, OpenFile], Outcome]
) -> int:
    """A read-like syscall: the host fills `buf` through `op` (or the log does)."""
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    result, data = p.host_call(lambda: op(p.live, f))
    if result > 0:
        p.m.write(buf, data)
    return result


@syscall("read")
def sys_read(p: LinuxPlatform, a: Args) -> int:
    return _read_into(p, a[0], a[1], lambda h, f: h.read(f, a[2]))


@syscall("pread64")
def sys_pread64(p: LinuxPlatform, a: Args) -> int:
    return _read_into(p, a[0], a[1], lambda h, f: h.pread(f, a[2], a[3]))


def _iovecs(p: LinuxPlatform, addr: int, count: int) -> list[tuple[int, int]]:
    raw = p.m.read(addr, 16 * min(count, 1024))
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(min(count, 1024))]


@syscall("readv")
def sys_readv(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    vecs = _iovecs(p, a[1], a[2])
    total = sum(n for _b, n in vecs)
    result, data = p.host_call(lambda: p.live.read(f, total))
    pos = 0
    for base, n in vecs:
        if pos >= len(data):
            break
        p.m.write(base, data[pos : pos + n])
        pos += n
    return result


def _output(p: LinuxPlatform, f: OpenFile, data: bytes) -> int:
    keep = f.kind in STDIO_KINDS
    result, _ = p.host_call(lambda: p.live.write(f, data, keep))
    if p.console is not None and keep and result > 0:
        p.console(1 if f.kind == "stdout" else 2, data[:result])
    return result


@syscall("write")
def sys_write(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    return _output(p, f, p.m.read(a[1], a[2]))


@syscall("writev")
def sys_writev(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    data = b"".join(p.m.read(base, n) for base, n in _iovecs(p, a[1], a[2]))
    return _output(p, f, data)


@syscall("pwrite64")
def sys_pwrite64(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    data = p.m.read(a[1], a[2])
    return p.host_call(lambda: p.live.pwrite(f, data, a[3]))[0]


@syscall("lseek")
def sys_lseek(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    return p.host_call(lambda: p.live.lseek(f, signed(a[1]), a[2]))[0]


@syscall("getdents64")
def sys_getdents64(p: LinuxPlatform, a: Args) -> int:
    return _read_into(p, a[0], a[1], lambda h, f: h.getdents(f, a[2]))


@syscall("pipe", "pipe2")
def sys_pipe(p: LinuxPlatform, a: Args) -> int:
    ends: list[int] = []

    def host() -> tuple[int, bytes]:
        # The host's fd numbers stay out of the log: the guest's come from its own table.
        try:
            ends.extend(os.pipe2(os.O_CLOEXEC))
        except OSError as err:
            return -(err.errno or EINVAL), b""
        return 0, b""

    result, _ = p.host_call(host)
    if result < 0:
        return result
    cloexec = (
        len(a) > 1 and bool(a[1] & O_CLOEXEC) and p.syscall_nr != p.arch.syscall_numbers.get("pipe")
    )
    r = p.fds.open("pipe", "<pipe>", 0, cloexec)
    w = p.fds.open("pipe", "<pipe>", 1, cloexec)
    if p.host is not None and ends:
        p.host.adopt(p.fds.files[r].ident, ends[0])
        p.host.adopt(p.fds.files[w].ident, ends[1])
    p.m.write(a[0], struct.pack("<ii", r, w))
    return 0


@syscall("poll", "ppoll")
def sys_poll(p: LinuxPlatform, a: Args) -> int:
    nfds = min(a[1], 1024)
    raw = p.m.read(a[0], 8 * nfds)
    entries = [struct.unpack_from("<ihh", raw, 8 * i) for i in range(nfds)]
    if p.syscall_nr == p.arch.syscall_numbers.get("ppoll"):
        timeout = -1 if a[2] == 0 else int.from_bytes(p.m.read(a[2], 8), "little") * 1000
    else:
        timeout = signed(a[2]) if signed(a[2]) >= 0 else -1

    def host() -> tuple[int, bytes]:
        assert p.host is not None
        fds = []
        for fd, events, _r in entries:
            f = p.fds.get(fd_arg(fd))
            fds.append((p.host.fd(f) if f else -1, events))
        return p.host.poll(fds, timeout)

    result, data = p.host_call(host)
    if result >= 0:
        for i in range(nfds):
            p.m.write(a[0] + 8 * i + 6, data[2 * i : 2 * i + 2])
    return result
