"""The host side of the guest's sockets during recording: create, bind, listen, accept,
connect, options and messages on real host sockets, their answers as the kernel gives them.

As host.py: only the closures the syscall handlers pass to `LiveInputs` call these, so replay
never opens a socket. Addresses and option values travel as the raw bytes the kernel reads
and writes (the guest's struct layouts are the host's on every 64-bit target ttdbg runs).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import stat
import struct
from collections.abc import Callable

from .host import SOCKADDR_MAX, HostWatch, Outcome

SOCK_NONBLOCK, SOCK_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
SOL_SOCKET, SO_ERROR, SCM_RIGHTS = 1, 4, 1
# The most control data one message carries through here (the kernel's default cap,
# net.core.optmem_max, is 20 KiB; real programs pass a few dozen bytes).
CONTROL_MAX = 20480
# The largest option value read or written (TCP_INFO is 232 bytes, SO_PEERSEC a label).
OPTION_MAX = 4096

_libc = ctypes.CDLL(None, use_errno=True)  # its own instance: the restypes set here stay here
for _name in ("sendmsg", "recvmsg"):
    getattr(_libc, _name).restype = ctypes.c_ssize_t


class _Iovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


class _Msghdr(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(_Iovec)),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    )


def _retrying(call: Callable[[], int]) -> int:
    """A libc call, again after EINTR from a signal the guest does not take (one it takes
    has raised HostInterrupted from its handler by then, which ends the call)."""
    while True:
        n = call()
        if n >= 0 or ctypes.get_errno() != errno.EINTR:
            return int(n)


def _failed() -> Outcome:
    return -ctypes.get_errno(), b""


def create(domain: int, kind: int, protocol: int, nonblock: bool, kept: list[int]) -> Outcome:
    """socket(): the host fd goes to `kept`, out of the log."""
    flags = SOCK_CLOEXEC | (SOCK_NONBLOCK if nonblock else 0)
    fd = _libc.socket(domain, kind | flags, protocol)
    if fd < 0:
        return _failed()
    kept.append(fd)
    return 0, b""


def bind(fd: int, address: bytes) -> Outcome:
    ok = _libc.bind(fd, address, len(address)) == 0
    return (0, b"") if ok else _failed()


def listen(fd: int, backlog: int) -> Outcome:
    return (0, b"") if _libc.listen(fd, backlog) == 0 else _failed()


def accept(fd: int, nonblock: bool, kept: list[int]) -> Outcome:
    """accept4(): the peer's address as payload; the new host fd goes to `kept`."""
    addr = ctypes.create_string_buffer(SOCKADDR_MAX)
    size = ctypes.c_uint32(SOCKADDR_MAX)
    flags = SOCK_CLOEXEC | (SOCK_NONBLOCK if nonblock else 0)
    new = _retrying(lambda: _libc.accept4(fd, addr, ctypes.byref(size), flags))
    if new < 0:
        return _failed()
    kept.append(new)
    return 0, addr.raw[: min(size.value, SOCKADDR_MAX)]


def connect(fd: int, address: bytes) -> Outcome:
    """The guest's own connect: blocking or not as its socket is."""
    ok = _retrying(lambda: _libc.connect(fd, address, len(address))) == 0
    return (0, b"") if ok else _failed()


# The connects of blocking sockets under way without blocking the recorder (another guest
# thread could run meanwhile: the server that accepts) are the host fds in a `pending` set
# (HostIO.connecting); the guest's call runs again until `finish` gives its result.


def begin_connect(fd: int, address: bytes, pending: set[int]) -> Outcome | None:
    """Start the connect of a blocking socket without waiting: its result when it ended at
    once, None when it is under way (`fd` joins `pending`). A socket the guest made
    non-blocking is not started here (None, nothing pending)."""
    if not os.get_blocking(fd):
        return None
    os.set_blocking(fd, False)
    try:
        got = connect(fd, address)
    finally:
        os.set_blocking(fd, True)
    if got[0] == -errno.EINPROGRESS:
        pending.add(fd)
        return None
    return got


def connect_watch(fd: int) -> HostWatch | None:
    """What a connect under way waits for (writable), None once it ended."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return None if poller.poll(0) else ((fd, select.POLLOUT),)


def finish_connect(fd: int, pending: set[int]) -> Outcome:
    """The end of a connect under way (waiting for it if need be): 0 or its errno."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while not poller.poll(-1):  # a signal the guest takes raises out of this
        pass
    pending.discard(fd)
    err = ctypes.c_int(0)
    size = ctypes.c_uint32(4)
    if _libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, ctypes.byref(err), ctypes.byref(size)):
        return _failed()
    return -err.value if err.value else 0, b""


def get_option(fd: int, level: int, name: int, room: int) -> Outcome:
    """getsockopt with a buffer of `room` bytes: the value, as long as the kernel says."""
    buf = ctypes.create_string_buffer(max(room, 1))
    size = ctypes.c_uint32(room)
    if _libc.getsockopt(fd, level, name, buf, ctypes.byref(size)) != 0:
        return _failed()
    return 0, buf.raw[: min(size.value, room)] + struct.pack("<I", size.value)


def set_option(fd: int, level: int, name: int, value: bytes) -> Outcome:
    ok = _libc.setsockopt(fd, level, name, value, len(value)) == 0
    return (0, b"") if ok else _failed()


def send_message(fd: int, data: bytes, name: bytes | None, control: bytes, flags: int) -> Outcome:
    """sendmsg of one buffer, with the destination and control data as given."""
    body = ctypes.create_string_buffer(data, max(len(data), 1))
    iov = _Iovec(ctypes.cast(body, ctypes.c_void_p), len(data))
    name_buf = ctypes.create_string_buffer(name or b"", max(len(name or b""), 1))
    ctl = ctypes.create_string_buffer(control, max(len(control), 1))
    msg = _Msghdr(
        ctypes.cast(name_buf, ctypes.c_void_p) if name is not None else None,
        len(name) if name is not None else 0,
        ctypes.pointer(iov),
        1,
        ctypes.cast(ctl, ctypes.c_void_p) if control else None,
        len(control),
        0,
    )
    n = _retrying(lambda: _libc.sendmsg(fd, ctypes.byref(msg), flags))
    return _failed() if n < 0 else (n, b"")


# msg_flags, the name's length, the control data's length, how many descriptors came
RECEIVED = struct.Struct("<IIII")
# Per descriptor passed in: what it is (an index of PASSED_KINDS) and its status flags.
PASSED = struct.Struct("<BI")
PASSED_KINDS = ("socket", "pipe", "file", "dir")


def _passed_kind(fd: int) -> int:
    mode = os.fstat(fd).st_mode
    if stat.S_ISSOCK(mode):
        return 0
    if stat.S_ISFIFO(mode):
        return 1
    return 3 if stat.S_ISDIR(mode) else 2


def receive_message(fd: int, count: int, control_room: int, flags: int, kept: list[int]) -> Outcome:
    """recvmsg into one buffer: payload RECEIVED, the sender's address, the control data,
    a PASSED for each descriptor it passes in (SCM_RIGHTS; their host fds go to `kept`,
    out of the log), the bytes."""
    body = ctypes.create_string_buffer(max(count, 1))
    iov = _Iovec(ctypes.cast(body, ctypes.c_void_p), count)
    name = ctypes.create_string_buffer(SOCKADDR_MAX)
    room = min(control_room, CONTROL_MAX)
    ctl = ctypes.create_string_buffer(max(room, 1))
    msg = _Msghdr(
        ctypes.cast(name, ctypes.c_void_p),
        SOCKADDR_MAX,
        ctypes.pointer(iov),
        1,
        ctypes.cast(ctl, ctypes.c_void_p) if room else None,
        room,
        0,
    )
    n = _retrying(lambda: _libc.recvmsg(fd, ctypes.byref(msg), flags))
    if n < 0:
        return _failed()
    control = ctl.raw[: msg.controllen]
    passed = passed_fds(control)
    kept.extend(passed)
    described = b""
    for host_fd in passed:
        os.set_inheritable(host_fd, False)
        status = fcntl.fcntl(host_fd, fcntl.F_GETFL)
        described += PASSED.pack(_passed_kind(host_fd), status)
    address = name.raw[: min(msg.namelen, SOCKADDR_MAX)]
    head = RECEIVED.pack(msg.flags & 0xFFFFFFFF, len(address), len(control), len(passed))
    return n, head + address + control + described + body.raw[: min(n, count)]  # n: MSG_TRUNC's


CMSG_HEADER = struct.Struct("<QiI")  # cmsg_len, cmsg_level, cmsg_type (64-bit layout)


def control_messages(control: bytes) -> list[tuple[int, int, bytes]]:
    """(level, type, data) of each control message in a buffer, as CMSG_NXTHDR walks it."""
    out = []
    at = 0
    while at + CMSG_HEADER.size <= len(control):
        length, level, kind = CMSG_HEADER.unpack_from(control, at)
        if length < CMSG_HEADER.size or at + length > len(control):
            break
        out.append((level, kind, control[at + CMSG_HEADER.size : at + length]))
        at += (length + 7) & ~7
    return out


def with_fds(control: bytes, fds: list[int]) -> bytes:
    """`control` with the descriptors its SCM_RIGHTS messages carry replaced, in order, by
    `fds` (the host's for the guest's when sending, the guest's for the host's received)."""
    out = bytearray(control)
    at = 0
    left = iter(fds)
    while at + CMSG_HEADER.size <= len(control):
        length, level, kind = CMSG_HEADER.unpack_from(control, at)
        if length < CMSG_HEADER.size or at + length > len(control):
            break
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            for i in range(at + CMSG_HEADER.size, at + length - 3, 4):
                struct.pack_into("<i", out, i, next(left, -1))
        at += (length + 7) & ~7
    return bytes(out)


def passed_fds(control: bytes) -> list[int]:
    """The descriptors SCM_RIGHTS messages in `control` carry."""
    fds: list[int] = []
    for level, kind, data in control_messages(control):
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            fds.extend(struct.unpack(f"<{len(data) // 4}i", data[: len(data) // 4 * 4]))
    return fds


SO_RCVTIMEO, SO_SNDTIMEO = 20, 21  # the struct timeval forms (SO_*TIMEO_OLD on 64-bit)


def timeout_ms(fd: int, option: int) -> int:
    """How long a receive (SO_RCVTIMEO) or send (SO_SNDTIMEO) on host socket `fd` waits
    before EAGAIN, in ms rounded up; -1 when for ever (0, or not a socket)."""
    tv = (ctypes.c_int64 * 2)()
    size = ctypes.c_uint32(ctypes.sizeof(tv))
    if _libc.getsockopt(fd, SOL_SOCKET, option, tv, ctypes.byref(size)) != 0:
        return -1
    ms = tv[0] * 1000 + -(-tv[1] // 1000)
    return ms if ms > 0 else -1
