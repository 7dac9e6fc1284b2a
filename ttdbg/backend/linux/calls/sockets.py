"""Sockets: Unix, IPv4 and IPv6, stream, datagram and sequenced-packet, as real host sockets
while recording (creating, binding, listening, accepting, connecting, options, messages, passed
descriptors) and from the log in replay, which opens none. Other families and raw sockets are
not offered."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from .. import hostsockets
from ..errnos import (
    EAFNOSUPPORT,
    EAGAIN,
    EMSGSIZE,
    ENOBUFS,
    ENOPROTOOPT,
    ENOTSOCK,
    ESOCKTNOSUPPORT,
)
from ..fdtable import OpenFile
from ..host import SOCKADDR_MAX, HostWatch, Outcome, SpanOutcome, would_block_writing
from ..platform import LinuxPlatform
from ..threads import ERESTARTSYS
from . import procfs
from .io import IOV_MAX, MAX_IO, broken_pipe, finish_parkable, gather, iovecs, parked_now, scatter
from .table import (
    EBADF,
    EINVAL,
    EOPNOTSUPP,
    O_CLOEXEC,
    O_NONBLOCK,
    O_RDWR,
    Args,
    Kind,
    open_file,
    syscall,
)

MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL = 0x40, 0x100, 0x4000
SOCKET = "socket"
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
# The families offered: a socket of another (netlink, packet, bluetooth...) would reach
# kernel state no recording holds, so `socket` answers EAFNOSUPPORT for it, as a kernel
# built without that family does.
FAMILIES = frozenset({AF_UNIX, AF_INET, AF_INET6})
# How `ttdbg info` names the families a program asked for in vain (others by number).
FAMILY_NAMES = {
    3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 9: "AF_X25", 15: "AF_KEY", 16: "AF_NETLINK",
    17: "AF_PACKET", 29: "AF_CAN", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP",
}  # fmt: skip
# Types not offered in any family (ESOCKTNOSUPPORT); the host's kernel checks the others.
REFUSED_TYPES = {3: "SOCK_RAW", 4: "SOCK_RDM", 10: "SOCK_PACKET"}
SOCK_TYPE_MASK = 0xF
SOL_SOCKET = 1
# Options whose value points into the caller's memory or names one of its fds (a BPF filter
# or program): the host would read the recorder's memory or fds. Refused, ENOPROTOOPT.
POINTER_OPTIONS = {
    26: "SO_ATTACH_FILTER",
    50: "SO_ATTACH_BPF",
    51: "SO_ATTACH_REUSEPORT_CBPF",
    52: "SO_ATTACH_REUSEPORT_EBPF",
}


def _kind_and_flags(type_: int) -> tuple[int, bool, bool]:
    """A socket type argument: (type and unknown flags, O_NONBLOCK?, O_CLOEXEC?)."""
    flags = type_ & (O_NONBLOCK | O_CLOEXEC)
    return type_ & ~flags, bool(flags & O_NONBLOCK), bool(flags & O_CLOEXEC)


def _install_socket(p: LinuxPlatform, nonblock: bool, cloexec: bool, kept: list[int]) -> int:
    """A new guest fd for a socket the host made (its host fd in `kept` when recording)."""
    fd = p.fds.open(SOCKET, "<socket>", O_RDWR | (O_NONBLOCK if nonblock else 0), cloexec)
    if fd < 0 and kept:
        os.close(kept[0])
    elif p.host is not None and kept:
        p.host.adopt(p.fds.files[fd].ident, kept[0])
    return fd


@syscall("socket", kind=Kind.HOST)
def sys_socket(p: LinuxPlatform, a: Args) -> int:
    domain, protocol = a[0], a[2]
    kind, nonblock, cloexec = _kind_and_flags(a[1])
    if kind & ~SOCK_TYPE_MASK:
        return -EINVAL  # an unknown flag: Linux checks these first
    if domain not in FAMILIES:
        p.not_offered(f"socket {FAMILY_NAMES.get(domain, f'family {domain}')}")
        return -EAFNOSUPPORT
    if kind & SOCK_TYPE_MASK in REFUSED_TYPES:
        p.not_offered(f"socket {REFUSED_TYPES[kind & SOCK_TYPE_MASK]}")
        return -ESOCKTNOSUPPORT
    kept: list[int] = []
    result, _ = p.host_call(lambda: hostsockets.create(domain, kind, protocol, nonblock, kept))
    return result if result < 0 else _install_socket(p, nonblock, cloexec, kept)


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


def _logged(fits: bool, what: str) -> None:
    """Replay: an answer from the log that no kernel gives (more bytes than the buffer it
    fills, lengths past the bytes logged) is an altered log. ValueError: the platform
    reports it as a divergence at this call, before anything reaches guest memory."""
    if not fits:
        raise ValueError(what)


def _put_address(p: LinuxPlatform, addr: int, len_addr: int, raw: bytes) -> None:
    """A socket address for the guest, cut to its buffer, with its whole length."""
    _logged(len(raw) <= SOCKADDR_MAX, f"a socket address of {len(raw)} bytes")
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
def sys_sendto(p: LinuxPlatform, a: Args) -> int | None:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    data = p.m.read(a[1], min(a[2], MAX_IO))
    address = p.m.read(a[4], min(a[5], SOCKADDR_MAX)) if a[4] else None
    if address is not None and a[5] > SOCKADDR_MAX:
        return -EINVAL
    return _sending(p, f, a[3], lambda _fd, flags: p.live.send(f, data, flags, address))


def _receive_flags(p: LinuxPlatform, flags: int) -> int:
    """Recording, in a receive's closure: the flags it goes to the host with. MSG_WAITALL
    would hold the recorder until the whole count arrived, from a thread that cannot run
    meanwhile: while another could, the receive takes what is there (fewer bytes, as when a
    signal interrupts it); its thread has parked until something was."""
    threads = p.threads
    if flags & MSG_WAITALL and threads.multi and threads.others_could_run():
        return flags & ~MSG_WAITALL | MSG_DONTWAIT
    return flags


@syscall("recvfrom", kind=Kind.HOST)
def sys_recvfrom(p: LinuxPlatform, a: Args) -> int | None:
    fd, buf, count, flags, src, src_len = a
    f = _socket(p, fd)
    if isinstance(f, int):
        return f
    parked: list[HostWatch] = []

    def waited() -> Outcome | None:
        # As read(): a receive that would wait parks its thread while another could run
        # (the sender may be one of the program's own threads).
        if flags & MSG_DONTWAIT:
            return None
        return _wait_or_go(p, f, lambda: p.live.would_block_reading(f), parked, RECEIVING)

    def receive_from() -> Outcome:
        stop = waited()
        return stop or p.live.recv_from(f, min(count, MAX_IO), _receive_flags(p, flags))

    if src:
        # With the sender's address: the answer is its length, the address, then the bytes.
        result, data = p.host_call(receive_from)
        if parked_now(p, result, parked):
            return None
        if result >= 0:
            size = struct.unpack_from("<I", data)[0]
            body = data[4 + size :]
            _logged(4 + size <= len(data), f"a sender's address of {size} bytes")
            _logged(len(body) <= min(count, MAX_IO), f"{len(body)} bytes for {count}")
            _put_address(p, src, src_len, data[4 : 4 + size])
            p.m.write(buf, body)
        return result

    def receive() -> SpanOutcome:
        stop = waited()
        if stop is not None:
            return *stop, b""
        return p.live.recv(f, min(count, MAX_IO), _receive_flags(p, flags))

    result, data = p.host_read(receive)
    _logged(len(data) <= min(count, MAX_IO), f"{len(data)} bytes for {count}")
    return finish_parkable(p, result, data, parked, buf)


@syscall("shutdown", kind=Kind.HOST)
def sys_shutdown(p: LinuxPlatform, a: Args) -> int:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    if a[1] not in (0, 1, 2):
        return -EINVAL
    return p.host_call(lambda: p.live.shutdown(f, a[1]))[0]


def _address(p: LinuxPlatform, addr: int, size: int) -> bytes | int:
    """A socket address the guest gives (its bytes), or -EINVAL for a length Linux refuses."""
    if not 0 <= size <= SOCKADDR_MAX:
        return -EINVAL
    return p.m.read(addr, size)


def _on_host_fd(p: LinuxPlatform, a: Args, op: Callable[[int], Outcome]) -> int:
    """A call on the socket `a[0]` whose host answer is only a status."""
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    return p.host_call(lambda: op(p.live.fd(f)))[0]


@syscall("bind", kind=Kind.HOST)
def sys_bind(p: LinuxPlatform, a: Args) -> int:
    address = _address(p, a[1], a[2])
    if isinstance(address, int):
        return address
    return _on_host_fd(p, a, lambda fd: hostsockets.bind(fd, address))


@syscall("listen", kind=Kind.HOST)
def sys_listen(p: LinuxPlatform, a: Args) -> int:
    return _on_host_fd(p, a, lambda fd: hostsockets.listen(fd, a[1]))


RECEIVING, SENDING = hostsockets.SO_RCVTIMEO, hostsockets.SO_SNDTIMEO


def _wait_or_go(
    p: LinuxPlatform,
    f: OpenFile,
    would_block: Callable[[], HostWatch | None],
    parked: list[HostWatch],
    timeout_option: int,
) -> Outcome | None:
    """Recording, in a host call's closure: None when the call goes ahead on the host;
    -ERESTARTSYS when its thread parks instead (another could run and the call would wait
    now; what it waits for goes to `parked`); -EAGAIN when it parked for as long as the
    socket's SO_RCVTIMEO or SO_SNDTIMEO (`timeout_option`) says and would still wait."""
    limit = hostsockets.timeout_ms(p.live.fd(f), timeout_option)
    watch, left = p.threads.host_wait_plan(would_block, limit)
    if watch is not None:
        parked.append(watch)
        return -ERESTARTSYS, b""
    if left == 0 and would_block() is not None:
        return -EAGAIN, b""
    return None


def _parks(
    p: LinuxPlatform, would_block: Callable[[], HostWatch | None], parked: list[HostWatch]
) -> bool:
    """Recording, in a host call's closure: whether the call must park its thread (another
    could run and the call would wait now); what it waits for goes to `parked`."""
    watch, _timeout = p.threads.host_wait_plan(would_block)
    if watch is not None:
        parked.append(watch)
    return watch is not None


def _accept(p: LinuxPlatform, fd: int, addr: int, len_addr: int, flags: int) -> int | None:
    if flags & ~(O_NONBLOCK | O_CLOEXEC):
        return -EINVAL
    f = _socket(p, fd)
    if isinstance(f, int):
        return f
    parked: list[HostWatch] = []
    kept: list[int] = []
    nonblock = bool(flags & O_NONBLOCK)

    def host() -> Outcome:
        # As read(): an accept that would wait parks its thread while another could run
        # (the client may be one of the program's own threads).
        stop = _wait_or_go(p, f, lambda: p.live.would_block_reading(f), parked, RECEIVING)
        return stop or hostsockets.accept(p.live.fd(f), nonblock, kept)

    result, peer = p.host_call(host)
    if parked_now(p, result, parked):
        return None
    if result < 0:
        return result
    _logged(len(peer) <= SOCKADDR_MAX, f"a peer's address of {len(peer)} bytes")
    new = _install_socket(p, nonblock, bool(flags & O_CLOEXEC), kept)
    if new >= 0 and addr:
        _put_address(p, addr, len_addr, peer)
    return new


@syscall("accept", kind=Kind.HOST)
def sys_accept(p: LinuxPlatform, a: Args) -> int | None:
    return _accept(p, a[0], a[1], a[2], 0)


@syscall("accept4", kind=Kind.HOST)
def sys_accept4(p: LinuxPlatform, a: Args) -> int | None:
    return _accept(p, a[0], a[1], a[2], a[3])


@syscall("connect", kind=Kind.HOST)
def sys_connect(p: LinuxPlatform, a: Args) -> int | None:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    address = _address(p, a[1], a[2])
    if isinstance(address, int):
        return address
    parked: list[HostWatch] = []

    def host() -> Outcome:
        # A blocking connect while another thread could run (the server that would accept)
        # starts without waiting; its thread parks until the connection is made or refused,
        # then runs the call again, which gives the result.
        live = p.live
        fd = live.fd(f)
        if fd not in live.connecting:
            ended: list[Outcome] = []

            def begin() -> HostWatch | None:
                got = hostsockets.begin_connect(fd, address, live.connecting)
                if got is not None:
                    ended.append(got)
                return hostsockets.connect_watch(fd) if fd in live.connecting else None

            if _parks(p, begin, parked):
                return -ERESTARTSYS, b""
            if ended:
                return ended[0]
            if fd not in live.connecting:
                return hostsockets.connect(fd, address)
        if _parks(p, lambda: hostsockets.connect_watch(fd), parked):
            return -ERESTARTSYS, b""
        return hostsockets.finish_connect(fd, live.connecting)

    result, _ = p.host_call(host)
    return None if parked_now(p, result, parked) else result


@syscall("getsockopt", kind=Kind.HOST)
def sys_getsockopt(p: LinuxPlatform, a: Args) -> int:
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    room = struct.unpack("<i", p.m.read(a[4], 4))[0]
    if room < 0:
        return -EINVAL
    level, name = a[1], a[2]
    ask = min(room, hostsockets.OPTION_MAX)
    result, data = p.host_call(lambda: hostsockets.get_option(p.live.fd(f), level, name, ask))
    if result == 0:
        value, size = data[:-4], data[-4:]
        _logged(len(size) == 4 and len(value) <= room, f"an option of {len(data)} bytes")
        p.m.write(a[3], value)
        p.m.write(a[4], size)
    return result


@syscall("setsockopt", kind=Kind.HOST)
def sys_setsockopt(p: LinuxPlatform, a: Args) -> int:
    level, name, size = a[1], a[2], a[4]
    if level == SOL_SOCKET and name in POINTER_OPTIONS:
        p.not_offered(f"setsockopt {POINTER_OPTIONS[name]}")
        return -ENOPROTOOPT
    if not 0 <= size <= hostsockets.OPTION_MAX:
        return -EINVAL
    value = p.m.read(a[3], size)
    return _on_host_fd(p, a, lambda fd: hostsockets.set_option(fd, level, name, value))


MSGHDR = struct.Struct("<QI4xQQQQi4x")  # struct user_msghdr, the same on every 64-bit target
MSG_FLAGS_AT = 48
MSG_NAMELEN_AT, MSG_CONTROLLEN_AT = 8, 40


def _message_header(p: LinuxPlatform, at: int) -> tuple[int, ...] | int:
    """A struct msghdr's fields as Linux's __copy_msghdr takes them: msg_namelen 0 without
    a name, negative EINVAL, past sizeof(struct sockaddr_storage) cut to it; more than
    UIO_MAXIOV iovecs EMSGSIZE (before the iovecs are read)."""
    name_at, name_len, iov, iov_len, control_at, control_len, fl = MSGHDR.unpack(
        p.m.read(at, MSGHDR.size)
    )
    if not name_at:
        name_len = 0
    if name_len >= 1 << 31:
        return -EINVAL
    if iov_len > IOV_MAX:
        return -EMSGSIZE
    return name_at, min(name_len, SOCKADDR_MAX), iov, iov_len, control_at, control_len, fl


def _message(
    p: LinuxPlatform, a: Args
) -> tuple[OpenFile, tuple[int, ...], list[tuple[int, int]]] | int:
    """sendmsg's and recvmsg's socket, message header and iovecs (in Linux's order: the
    socket, the header, its iovecs), or the errno of the first that is wrong."""
    f = _socket(p, a[0])
    if isinstance(f, int):
        return f
    header = _message_header(p, a[1])
    if isinstance(header, int):
        return header
    vecs = iovecs(p, header[2], header[3])
    if isinstance(vecs, int):
        return vecs
    return f, header, vecs


def _sending(
    p: LinuxPlatform, f: OpenFile, flags: int, send: Callable[[int, int], Outcome]
) -> int | None:
    """A send (`send(host fd, flags)`) on socket `f`. While another thread could run, a send
    that would wait parks its thread, and the one that goes ahead does not wait either: it
    may move fewer bytes, as a send interrupted by a signal does."""
    parked: list[HostWatch] = []

    def host() -> Outcome:
        fd = p.live.fd(f)
        threads = p.threads
        if flags & MSG_DONTWAIT or not (threads.multi and threads.others_could_run()):
            return send(fd, flags)
        stop = _wait_or_go(p, f, lambda: would_block_writing(fd), parked, SENDING)
        if stop is not None:
            return stop
        got = send(fd, flags | MSG_DONTWAIT)
        if got[0] == -EAGAIN and would_block_writing(fd) is not None:
            parked.append(((fd, 4),))  # POLLOUT
            return -ERESTARTSYS, b""
        return got

    result, _ = p.host_call(host)
    if parked_now(p, result, parked):
        return None
    return result if flags & MSG_NOSIGNAL else broken_pipe(p, result)


@syscall("sendmsg", kind=Kind.HOST)
def sys_sendmsg(p: LinuxPlatform, a: Args) -> int | None:
    message = _message(p, a)
    if isinstance(message, int):
        return message
    f, (name_at, name_len, _iov, _n, control_at, control_len, _fl), vecs = message
    if control_len > hostsockets.CONTROL_MAX:
        return -ENOBUFS
    data = gather(p, vecs)
    name = p.m.read(name_at, name_len) if name_at and name_len else None
    control = p.m.read(control_at, control_len) if control_at and control_len else b""
    # Descriptors passed (SCM_RIGHTS) go as the host's descriptors of the same files.
    passing = [open_file(p, fd) for fd in hostsockets.passed_fds(control)]
    if any(g is None for g in passing):
        return -EBADF
    files = [g for g in passing if g is not None]
    if any(g.kind in procfs.KINDS for g in files):
        p.not_offered("sendmsg SCM_RIGHTS of an emulated /proc file")
        return -EOPNOTSUPP

    def send(fd: int, flags: int) -> Outcome:
        host_control = hostsockets.with_fds(control, [p.live.fd(g) for g in files])
        return hostsockets.send_message(fd, data, name, host_control, flags)

    return _sending(p, f, a[2], send)


MSG_CMSG_CLOEXEC = 0x40000000


def _install_passed(
    p: LinuxPlatform, described: bytes, cloexec: bool, kept: list[int]
) -> list[int]:
    """Guest fds for the descriptors a message passed in (PASSED each), in order, with their
    host fds (`kept`, recording) behind them; -1 for one the fd table has no room for."""
    fds = []
    for i in range(len(described) // hostsockets.PASSED.size):
        kind_code, status = hostsockets.PASSED.unpack_from(described, i * hostsockets.PASSED.size)
        if kind_code >= len(hostsockets.PASSED_KINDS):
            raise ValueError(f"passed descriptor of unknown kind {kind_code}")
        kind = hostsockets.PASSED_KINDS[kind_code]
        fd = p.fds.open(kind, f"<{kind}>", status & ~O_CLOEXEC, cloexec)
        if fd < 0 and i < len(kept):
            os.close(kept[i])
        elif p.host is not None and i < len(kept):
            p.host.adopt(p.fds.files[fd].ident, kept[i])
        fds.append(fd if fd >= 0 else -1)
    return fds


@syscall("recvmsg", kind=Kind.HOST)
def sys_recvmsg(p: LinuxPlatform, a: Args) -> int | None:
    message = _message(p, a)
    if isinstance(message, int):
        return message
    f, (name_at, name_len, _iov, _n, control_at, control_len, _fl), vecs = message
    count = min(sum(n for _b, n in vecs), MAX_IO)
    room = min(control_len, hostsockets.CONTROL_MAX) if control_at else 0
    flags = a[2]
    parked: list[HostWatch] = []
    kept: list[int] = []  # host fds of the descriptors passed in (recording)

    def host() -> Outcome:
        if not flags & MSG_DONTWAIT:
            stop = _wait_or_go(p, f, lambda: p.live.would_block_reading(f), parked, RECEIVING)
            if stop is not None:
                return stop
        fd = p.live.fd(f)
        return hostsockets.receive_message(fd, count, room, _receive_flags(p, flags), kept)

    result, data = p.host_call(host)
    if parked_now(p, result, parked):
        return None
    if result < 0:
        return result
    msg_flags, got_name, got_control, got_fds = hostsockets.RECEIVED.unpack_from(data)
    at = hostsockets.RECEIVED.size
    described_size = got_fds * hostsockets.PASSED.size
    end = at + got_name + got_control + described_size
    body = data[end:]
    _logged(end <= len(data), "lengths past the message logged")
    _logged(got_name <= SOCKADDR_MAX, f"a sender's address of {got_name} bytes")
    _logged(got_control <= room, f"{got_control} bytes of control data for {room}")
    _logged(len(body) <= count, f"{len(body)} bytes for {count}")
    address = data[at : at + got_name]
    at += got_name
    control = data[at : at + got_control]
    at += got_control
    described = data[at : at + described_size]
    scatter(p, vecs, body)
    new_fds = _install_passed(p, described, bool(flags & MSG_CMSG_CLOEXEC), kept)
    control = hostsockets.with_fds(control, new_fds)
    # As Linux: the name cut to the guest's room, msg_namelen its whole length (left as it
    # is without a buffer for it); the control data as long as it fit, msg_controllen what
    # was used.
    if name_at:
        p.m.write(name_at, address[:name_len])
        p.m.write(a[1] + MSG_NAMELEN_AT, struct.pack("<I", len(address)))
    if control:
        p.m.write(control_at, control)
    p.m.write(a[1] + MSG_CONTROLLEN_AT, struct.pack("<Q", len(control)))
    p.m.write(a[1] + MSG_FLAGS_AT, struct.pack("<I", msg_flags))
    return result
