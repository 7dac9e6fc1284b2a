"""Unix socket pairs (asyncio's self-pipe, worker channels) and the calls on a connected
socket: send, receive, shutdown, the names of its ends. Other sockets are not offered:
`socket` has no row and answers ENOSYS."""

from __future__ import annotations

import struct

from ..errnos import ENOTSOCK
from ..fdtable import OpenFile
from ..host import SOCKADDR_MAX, HostWatch, SpanOutcome
from ..platform import LinuxPlatform
from ..threads import ERESTARTSYS
from . import procfs
from .io import MAX_IO, finish_parkable, parked_now
from .table import EBADF, EINVAL, O_CLOEXEC, O_NONBLOCK, O_RDWR, Args, Kind, open_file, syscall

MSG_DONTWAIT = 0x40
SOCKET = "socket"


@syscall("socketpair", kind=Kind.HOST)
def sys_socketpair(p: LinuxPlatform, a: Args) -> int:
    domain, protocol, sv = a[0], a[2], a[3]
    flags = a[1] & (O_NONBLOCK | O_CLOEXEC)
    kind = a[1] & ~flags
    ends: list[int] = []
    # The host's kernel checks the family, type (and its other flags) and protocol.
    nonblock = bool(flags & O_NONBLOCK)
    result, _ = p.host_call(lambda: p.live.socketpair(domain, kind, protocol, nonblock, ends))
    if result < 0:
        return result
    cloexec = bool(flags & O_CLOEXEC)
    fds = [p.fds.open(SOCKET, "<socket>", O_RDWR | flags & O_NONBLOCK, cloexec) for _ in "ab"]
    if p.host is not None and ends:
        for fd, host_fd in zip(fds, ends, strict=True):
            p.host.adopt(p.fds.files[fd].ident, host_fd)
    p.m.write(sv, struct.pack("<ii", *fds))
    return 0


def _socket(p: LinuxPlatform, fd: int) -> OpenFile | int:
    """The description `fd` names, or EBADF; ENOTSOCK for an emulated /proc entry (the
    host's kernel says it for any other file that is not a socket)."""
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    return -ENOTSOCK if f.kind in procfs.KINDS else f


def _put_address(p: LinuxPlatform, addr: int, len_addr: int, raw: bytes) -> None:
    """A socket address for the guest, cut to its buffer, with its whole length."""
    room = struct.unpack("<I", p.m.read(len_addr, 4))[0]
    p.m.write(addr, raw[:room])
    p.m.write(len_addr, struct.pack("<I", len(raw)))


def _name(p: LinuxPlatform, a: Args, peer: bool) -> int:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    result, raw = p.host_call(lambda: p.live.socket_name(f, peer))
    if result == 0:
        _put_address(p, a[1], a[2], raw)
    return result


@syscall("getsockname", kind=Kind.HOST)
def sys_getsockname(p: LinuxPlatform, a: Args) -> int:
    return _name(p, a, False)


@syscall("getpeername", kind=Kind.HOST)
def sys_getpeername(p: LinuxPlatform, a: Args) -> int:
    return _name(p, a, True)


@syscall("sendto", kind=Kind.HOST)
def sys_sendto(p: LinuxPlatform, a: Args) -> int:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    data = p.m.read(a[1], min(a[2], MAX_IO))
    address = p.m.read(a[4], min(a[5], SOCKADDR_MAX)) if a[4] else None
    if address is not None and a[5] > SOCKADDR_MAX:
        return -EINVAL
    return p.host_call(lambda: p.live.send(f, data, a[3], address))[0]


@syscall("recvfrom", kind=Kind.HOST)
def sys_recvfrom(p: LinuxPlatform, a: Args) -> int | None:
    fd, buf, count, flags, src, src_len = a
    f = _socket(p, fd)
    if isinstance(f, int):
        return f
    threads = p.threads
    parked: list[HostWatch] = []

    def would_wait() -> bool:
        # As read(): a receive that would wait parks its thread while another could run
        # (the sender may be one of the program's own threads).
        if flags & MSG_DONTWAIT:
            return False
        watch, _timeout = threads.host_wait_plan(lambda: p.live.would_block_reading(f))
        if watch is not None:
            parked.append(watch)
        return watch is not None

    if src:
        # With the sender's address: the answer is its length, the address, then the bytes.
        result, data = p.host_call(
            lambda: (
                (-ERESTARTSYS, b"")
                if would_wait()
                else p.live.recv_from(f, min(count, MAX_IO), flags)
            )
        )
        if parked_now(p, result, parked):
            return None
        if result >= 0:
            size = struct.unpack_from("<I", data)[0]
            _put_address(p, src, src_len, data[4 : 4 + size])
            p.m.write(buf, data[4 + size :])
        return result

    def receive() -> SpanOutcome:
        if would_wait():
            return -ERESTARTSYS, b"", b""
        return p.live.recv(f, min(count, MAX_IO), flags)

    result, data = p.host_read(receive)
    return finish_parkable(p, result, data, parked, buf)


@syscall("shutdown", kind=Kind.HOST)
def sys_shutdown(p: LinuxPlatform, a: Args) -> int:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    if a[1] not in (0, 1, 2):
        return -EINVAL
    return p.host_call(lambda: p.live.shutdown(f, a[1]))[0]
