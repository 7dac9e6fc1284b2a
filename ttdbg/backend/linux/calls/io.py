"""Reading and writing: read, write, their vector and positioned forms, pipes, poll."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable

from ..errnos import EAGAIN, EPIPE, EXDEV
from ..fdtable import OpenFile
from ..host import HostIO, HostWatch, Outcome, SpanOutcome, would_block_writing
from ..platform import LinuxPlatform
from ..signals import SI_USER
from ..threads import ERESTARTSYS
from . import procfs
from .alarms import read_sigmask, timeout_ms, wait_under_mask
from .table import (
    EBADF,
    EINVAL,
    EISDIR,
    EOPNOTSUPP,
    O_CLOEXEC,
    O_NONBLOCK,
    STDIO_KINDS,
    Args,
    Kind,
    open_file,
    syscall,
)


def _read_into(
    p: LinuxPlatform,
    fd: int,
    buf: int,
    op: Callable[[HostIO, OpenFile], SpanOutcome],
    emulated: Callable[[OpenFile], bytes | int],
) -> int | None:
    """A read-like syscall: the host fills `buf` through `op` (or the log does); an emulated
    /proc file answers through `emulated`."""
    f = open_file(p, fd)
    if f is None:
        return -EBADF
    if f.kind in procfs.KINDS:
        got = emulated(f)
        if isinstance(got, int):
            return got
        p.m.write(buf, got)
        return len(got)
    threads = p.threads
    blocking: list[HostWatch] = []  # what a read that would block waits for (recording)

    def read() -> SpanOutcome:
        # With several threads, a read that would block parks its thread instead of the
        # recorder while another thread could run; replay parks where the log says so.
        watch, _timeout = threads.host_wait_plan(lambda: p.live.would_block_reading(f))
        if watch is not None:
            blocking.append(watch)
            return -ERESTARTSYS, b"", b""
        return op(p.live, f)

    result, data = p.host_read(read)
    return finish_parkable(p, result, data, blocking, buf)


def finish_parkable(
    p: LinuxPlatform, result: int, data: bytes, parked: list[HostWatch], buf: int
) -> int | None:
    """The end of a host call that may have parked its thread: park it (replay parks at the
    same point), or put what the call returned into the guest's buffer."""
    if parked_now(p, result, parked):
        return None
    if result > 0:
        p.m.write(buf, data)
    return result


def parked_now(p: LinuxPlatform, result: int, parked: list[HostWatch]) -> bool:
    """Whether the host call parked its thread (logged as -ERESTARTSYS): then it waits for
    what it watches (nothing in replay, where the log says when it ends)."""
    if result == -ERESTARTSYS and p.threads.multi:
        p.threads.park_for_host(parked[0] if parked else ())
        return True
    return False


@syscall("read", kind=Kind.HOST)
def sys_read(p: LinuxPlatform, a: Args) -> int | None:
    return _read_into(
        p, a[0], a[1], lambda h, f: h.read(f, a[2]), lambda f: _proc_read(p, f, a[2], None)
    )


@syscall("pread64", kind=Kind.HOST)
def sys_pread64(p: LinuxPlatform, a: Args) -> int | None:
    if a[3] < 0:
        return -EINVAL
    return _read_into(
        p, a[0], a[1], lambda h, f: h.pread(f, a[2], a[3]), lambda f: _proc_read(p, f, a[2], a[3])
    )


def _proc_read(p: LinuxPlatform, f: OpenFile, count: int, offset: int | None) -> bytes | int:
    if f.kind == procfs.PROC_DIR:
        return -EISDIR
    procfs.refresh(p, f, offset)
    return procfs.read(f, count, offset)


IOV_MAX = 1024
# The most one call moves; a larger request is a short read or write, which POSIX allows.
MAX_IO = 1 << 24


def iovecs(p: LinuxPlatform, addr: int, count: int) -> list[tuple[int, int]] | int:
    """The (base, length) pairs of an iovec array, or -EINVAL as Linux checks them."""
    if count > IOV_MAX:
        return -EINVAL
    raw = p.m.read(addr, 16 * count)
    vecs = [struct.unpack_from("<QQ", raw, 16 * i) for i in range(count)]
    if sum(n for _b, n in vecs) >= 1 << 63:
        return -EINVAL
    return vecs


def gather(p: LinuxPlatform, vecs: list[tuple[int, int]]) -> bytes:
    """The bytes an iovec array points at, up to MAX_IO."""
    out = bytearray()
    for base, n in vecs:
        take = min(n, MAX_IO - len(out))
        out += p.m.read(base, take)
        if len(out) >= MAX_IO:
            break
    return bytes(out)


def scatter(p: LinuxPlatform, vecs: list[tuple[int, int]], data: bytes) -> None:
    """Put `data` into the buffers of an iovec array, in order."""
    pos = 0
    for base, n in vecs:
        if pos >= len(data):
            break
        p.m.write(base, data[pos : pos + n])
        pos += n


def _readv_at(p: LinuxPlatform, a: Args, offset: int | None) -> int:
    """readv (offset None: the file's own offset, moved) or preadv (at `offset`)."""
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    vecs = iovecs(p, a[1], a[2])
    if isinstance(vecs, int):
        return vecs
    total = min(sum(n for _b, n in vecs), MAX_IO)
    if f.kind in procfs.KINDS:
        got = _proc_read(p, f, total, offset)
        if isinstance(got, int):
            return got
        result, data = len(got), got
    elif offset is None:
        result, data = p.host_read(lambda: p.live.read(f, total))
    else:
        result, data = p.host_read(lambda: p.live.pread(f, total, offset))
    scatter(p, vecs, data)
    return result


@syscall("readv", kind=Kind.HOST)
def sys_readv(p: LinuxPlatform, a: Args) -> int:
    return _readv_at(p, a, None)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# preadv2/pwritev2 flags (RWF_HIPRI, RWF_DSYNC, ...) are not carried out: any is refused.
RWF_CARRIED_OUT = 0


def _vector_at(a: Args, two: bool) -> int | None:
    """Where preadv/pwritev (pos_l: the whole offset on a 64-bit kernel) or their `2` forms
    read or write: the offset; None for the `2` forms' -1, the file's own offset (used and
    moved); a negative errno for a negative offset or a flag."""
    if two and a[5] & ~RWF_CARRIED_OUT:
        return -EOPNOTSUPP
    pos = _signed(a[3])
    if two and pos == -1:
        return None
    return -EINVAL if pos < 0 else pos


def _vector_call(
    p: LinuxPlatform,
    a: Args,
    two: bool,
    call: Callable[[LinuxPlatform, Args, int | None], int | None],
) -> int | None:
    """preadv/pwritev(2): `call` (readv or writev at an offset) at the offset they name."""
    at = _vector_at(a, two)
    return at if at is not None and at < 0 else call(p, a, at)


@syscall("preadv", kind=Kind.HOST)
def sys_preadv(p: LinuxPlatform, a: Args) -> int | None:
    return _vector_call(p, a, False, _readv_at)


@syscall("preadv2", kind=Kind.HOST)
def sys_preadv2(p: LinuxPlatform, a: Args) -> int | None:
    return _vector_call(p, a, True, _readv_at)


SIGPIPE = 13


def broken_pipe(p: LinuxPlatform, result: int) -> int:
    """`result`; when it is EPIPE (nothing reads the pipe or stream socket any more), Linux
    also sends the writer SIGPIPE (the recorder ignores it on the host, so it comes here)."""
    if result == -EPIPE:
        p.kill_self(SIGPIPE, SI_USER)
    return result


# Where a write may wait for a reader that is one of the program's own threads.
WAITING_KINDS = ("pipe", "socket")
POLLOUT_WATCH = 0x4


def _write_parkable(p: LinuxPlatform, f: OpenFile, data: bytes) -> int | None:
    """A write to a pipe or socket. While another thread could run (the reader may be one),
    a write that would wait parks its thread, and the one that goes ahead takes what fits
    (fewer bytes, as when a signal interrupts it) instead of holding the recorder."""
    parked: list[HostWatch] = []

    def host() -> Outcome:
        threads = p.threads
        if not (threads.multi and threads.others_could_run()):
            return p.live.write(f, data, False)
        fd = p.live.fd(f)
        watch, _timeout = threads.host_wait_plan(lambda: would_block_writing(fd))
        if watch is not None:
            parked.append(watch)
            return -ERESTARTSYS, b""
        got = p.live.write_without_waiting(f, data)
        if got[0] == -EAGAIN and would_block_writing(fd) is not None:
            parked.append(((fd, POLLOUT_WATCH),))
            return -ERESTARTSYS, b""
        return got

    result, _ = p.host_call(host)
    return None if parked_now(p, result, parked) else broken_pipe(p, result)


def _output(p: LinuxPlatform, f: OpenFile, data: bytes) -> int | None:
    if f.kind in procfs.KINDS:
        return -EBADF  # opened read-only
    if f.kind in WAITING_KINDS:
        return _write_parkable(p, f, data)
    keep = f.kind in STDIO_KINDS
    result, _ = p.host_call(lambda: p.live.write(f, data, keep))
    broken_pipe(p, result)  # only pipes, FIFOs and sockets (stdout may be one) say EPIPE
    if p.console is not None and keep and result > 0:
        p.console(1 if f.kind == "stdout" else 2, data[:result])
    return result


@syscall("write", kind=Kind.HOST)
def sys_write(p: LinuxPlatform, a: Args) -> int | None:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    return _output(p, f, p.m.read(a[1], min(a[2], MAX_IO)))


def _writev_at(p: LinuxPlatform, a: Args, offset: int | None) -> int | None:
    """writev (offset None: the file's own offset, moved) or pwritev (at `offset`)."""
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    vecs = iovecs(p, a[1], a[2])
    if isinstance(vecs, int):
        return vecs
    data = gather(p, vecs)
    if offset is None:
        return _output(p, f, data)
    if f.kind in procfs.KINDS:
        return procfs.pwrite_refusal(f)
    return p.host_call(lambda: p.live.pwrite(f, data, offset))[0]


@syscall("writev", kind=Kind.HOST)
def sys_writev(p: LinuxPlatform, a: Args) -> int | None:
    return _writev_at(p, a, None)


@syscall("pwritev", kind=Kind.HOST)
def sys_pwritev(p: LinuxPlatform, a: Args) -> int | None:
    return _vector_call(p, a, False, _writev_at)


@syscall("pwritev2", kind=Kind.HOST)
def sys_pwritev2(p: LinuxPlatform, a: Args) -> int | None:
    return _vector_call(p, a, True, _writev_at)


@syscall("pwrite64", kind=Kind.HOST)
def sys_pwrite64(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    if f.kind in procfs.KINDS:
        return procfs.pwrite_refusal(f)
    data = p.m.read(a[1], min(a[2], MAX_IO))
    return p.host_call(lambda: p.live.pwrite(f, data, a[3]))[0]


@syscall("lseek", kind=Kind.HOST)
def sys_lseek(p: LinuxPlatform, a: Args) -> int:
    f = open_file(p, a[0])
    if f is None:
        return -EBADF
    if f.kind in procfs.KINDS:
        return procfs.seek(f, a[1], a[2])
    return p.host_call(lambda: p.live.lseek(f, a[1], a[2]))[0]


@syscall("getdents64", kind=Kind.HOST)
def sys_getdents64(p: LinuxPlatform, a: Args) -> int | None:
    return _read_into(
        p,
        a[0],
        a[1],
        lambda h, f: (*h.getdents(f, a[2]), b""),
        lambda f: procfs.getdents(f, a[2]),
    )


@syscall("pipe", "pipe2", kind=Kind.HOST)
def sys_pipe(p: LinuxPlatform, a: Args) -> int:
    ends: list[int] = []
    flags = a[1] if len(a) > 1 and p.syscall_nr != p.arch.syscall_numbers.get("pipe") else 0
    if flags & ~(O_CLOEXEC | O_NONBLOCK):
        # Unknown flags, as on Linux, and O_DIRECT (packet mode), which is not offered:
        # refused rather than ignored.
        return -EINVAL
    nonblock = flags & O_NONBLOCK

    def host() -> tuple[int, bytes]:
        # The host's fd numbers stay out of the log: the guest's come from its own table.
        try:
            ends.extend(os.pipe2(os.O_CLOEXEC | nonblock))
        except OSError as err:
            return -(err.errno or EINVAL), b""
        return 0, b""

    result, _ = p.host_call(host)
    if result < 0:
        return result
    cloexec = bool(flags & O_CLOEXEC)
    r = p.fds.open("pipe", "<pipe>", 0 | nonblock, cloexec)
    w = p.fds.open("pipe", "<pipe>", 1 | nonblock, cloexec)
    if p.host is not None and ends:
        p.host.adopt(p.fds.files[r].ident, ends[0])
        p.host.adopt(p.fds.files[w].ident, ends[1])
    p.m.write(a[0], struct.pack("<ii", r, w))
    return 0


POLLNVAL = 0x20


def _poll_fd(h: HostIO, fd: int, f: OpenFile | None) -> int | None:
    """The host fd poll() watches for a guest fd: -1 to skip it, None when it is not open."""
    if f is None:
        return -1 if fd < 0 else None
    if f.kind in procfs.KINDS:
        return h.always_ready()
    return h.fd(f)


POLLFD = struct.Struct("<ihh")


def _host_poll(
    p: LinuxPlatform, fds: list[tuple[int | None, int]], timeout_ms: int, parked: list[HostWatch]
) -> Outcome:
    """poll() on the host, or -ERESTARTSYS when it would wait while another thread could run
    (its thread parks on the fds instead; the call runs again, with the time left, when one
    is ready or the time is up)."""
    h = p.live
    watch, left = p.threads.host_wait_plan(lambda: h.would_block_polling(fds), timeout_ms)
    if watch is not None:
        parked.append(watch)
        return -ERESTARTSYS, b""
    return h.poll(fds, left)


def _poll(p: LinuxPlatform, addr: int, nfds: int, timeout_ms: int) -> int | None:
    """poll() over the host files behind the guest's fds; revents come back from the log."""
    if nfds > 1024:
        return -EINVAL
    raw = p.m.read(addr, POLLFD.size * nfds)
    entries = [POLLFD.unpack_from(raw, POLLFD.size * i) for i in range(nfds)]
    files = [(fd, events, open_file(p, fd) if fd >= 0 else None) for fd, events, _r in entries]
    parked: list[HostWatch] = []

    def host(h: HostIO) -> Outcome:
        # A negative fd is skipped (revents 0); a closed one answers POLLNVAL, as Linux does.
        fds = [(_poll_fd(h, fd, f), ev) for fd, ev, f in files]
        return _host_poll(p, fds, timeout_ms, parked)

    result, data = p.host_call(lambda: host(p.live))
    if parked_now(p, result, parked):
        return None
    if result >= 0:
        for i in range(nfds):
            p.m.write(addr + POLLFD.size * i + 6, data[2 * i : 2 * i + 2])
    return result


@syscall("poll", kind=Kind.HOST)
def sys_poll(p: LinuxPlatform, a: Args) -> int | None:
    return _poll(p, a[0], a[1], max(a[2], -1))


@syscall("ppoll", kind=Kind.HOST)
def sys_ppoll(p: LinuxPlatform, a: Args) -> int | None:
    timeout = timeout_ms(p, a[2])
    if timeout is None or not wait_under_mask(p, a[3], a[4]):
        return -EINVAL
    return _poll(p, a[0], a[1], timeout)


POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP = 0x1, 0x2, 0x4, 0x8, 0x10
# Which poll events make select() report an fd in each of its three sets (fs/select.c).
SELECT_SETS = (POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI)
SELECT_ASKS = (POLLIN, POLLOUT, POLLPRI)
FD_SETSIZE = 1024


def _select(p: LinuxPlatform, a: Args, timeout_ns: int | None) -> tuple[int | None, int]:
    """select over the host files behind the guest's fds: (result, time it took in ns);
    None: its thread parked (it runs the call again later)."""
    nfds, addrs = a[0], a[1:4]
    if not 0 <= nfds <= FD_SETSIZE:
        return -EINVAL, 0
    size = (nfds + 63) // 64 * 8
    sets = [int.from_bytes(p.m.read(addr, size), "little") if addr else 0 for addr in addrs]
    wanted: dict[int, int] = {}
    for which, bits in enumerate(sets):
        for fd in range(nfds):
            if bits >> fd & 1:
                wanted[fd] = wanted.get(fd, 0) | SELECT_ASKS[which]
    files = [(fd, events, open_file(p, fd)) for fd, events in sorted(wanted.items())]
    if any(f is None for _fd, _e, f in files):
        return -EBADF, 0
    timeout_ms = -1 if timeout_ns is None else (timeout_ns + 999_999) // 1_000_000
    parked: list[HostWatch] = []

    def host(h: HostIO) -> Outcome:
        # The time it took counts from the call's first attempt, also when its thread parked.
        first = p.threads.running.host_deadline
        start = time.monotonic_ns()
        fds = [(_poll_fd(h, fd, f), ev) for fd, ev, f in files]
        result, data = _host_poll(p, fds, timeout_ms, parked)
        end = time.monotonic_ns()
        took = end - start if first is None else end - (first - timeout_ms * 1_000_000)
        return result, data + took.to_bytes(8, "little") if result >= 0 else data

    result, data = p.host_call(lambda: host(p.live))
    if parked_now(p, result, parked):
        return None, 0
    if result < 0:
        return result, 0
    ready = [0, 0, 0]
    count = 0
    for i, (fd, _ev, _f) in enumerate(files):
        revents = int.from_bytes(data[2 * i : 2 * i + 2], "little")
        for which in range(3):
            if sets[which] >> fd & 1 and revents & SELECT_SETS[which]:
                ready[which] |= 1 << fd
                count += 1
    for addr, bits in zip(addrs, ready, strict=True):
        if addr:
            p.m.write(addr, bits.to_bytes(size, "little"))
    return count, int.from_bytes(data[-8:], "little")


def _timed_select(p: LinuxPlatform, a: Args, unit_ns: int) -> int | None:
    """select (a struct timeval, unit 1000 ns) or pselect6 (a struct timespec, unit 1 ns);
    Linux writes back the time that was not used."""
    timeout = None
    if a[4]:
        sec, frac = struct.unpack("<qq", p.m.read(a[4], 16))
        if sec < 0 or not 0 <= frac < 1_000_000_000 // unit_ns:
            return -EINVAL
        timeout = sec * 1_000_000_000 + frac * unit_ns
    result, took = _select(p, a, timeout)
    if result is None:
        return None
    if result >= 0 and timeout is not None:
        left = max(0, timeout - took)
        frac = left % 1_000_000_000 // unit_ns
        p.m.write(a[4], struct.pack("<qq", left // 1_000_000_000, frac))
    return result


@syscall("select", kind=Kind.HOST)
def sys_select(p: LinuxPlatform, a: Args) -> int | None:
    return _timed_select(p, a, 1000)


@syscall("pselect6", kind=Kind.HOST)
def sys_pselect6(p: LinuxPlatform, a: Args) -> int | None:
    if a[5]:  # { const sigset_t *ss; size_t ss_len }
        addr, size = struct.unpack("<QQ", p.m.read(a[5], 16))
        mask = read_sigmask(p, addr, size) if addr else p.signals.blocked
        if mask is None:
            return -EINVAL
        p.signals.wait_with_mask(mask)
    return _timed_select(p, a, 1)


def _user_offsets(p: LinuxPlatform, ptrs: tuple[int, ...]) -> list[int | None] | None:
    """The loff_t each of `ptrs` points to (None for a NULL pointer: the file's own offset is
    used and moved instead), or None when one is negative (EINVAL)."""
    at = [struct.unpack("<q", p.m.read(ptr, 8))[0] if ptr else None for ptr in ptrs]
    return None if any(o is not None and o < 0 for o in at) else at


def _advance_user_offsets(
    p: LinuxPlatform, ptrs: tuple[int, ...], at: list[int | None], moved: int
) -> None:
    """Move each pointed-to offset past the `moved` bytes the call handled."""
    for ptr, offset in zip(ptrs, at, strict=True):
        if offset is not None:
            p.m.write(ptr, struct.pack("<q", offset + moved))


@syscall("sendfile", kind=Kind.HOST)
def sys_sendfile(p: LinuxPlatform, a: Args) -> int:
    out, src = open_file(p, a[0]), open_file(p, a[1])
    if out is None or src is None:
        return -EBADF
    if out.kind in procfs.KINDS:
        return -EBADF  # opened read-only
    if src.kind in procfs.KINDS:
        return 0 if a[3] == 0 else -EINVAL  # /proc's entries cannot be spliced from
    ptrs = (a[2],)
    at = _user_offsets(p, ptrs)
    if at is None:
        return -EINVAL
    keep = out.kind in STDIO_KINDS
    result, data = p.host_call(lambda: p.live.sendfile(out, src, at[0], a[3], keep))
    if result > 0 and keep and p.console is not None:
        p.console(1 if out.kind == "stdout" else 2, data)
    if result >= 0:
        _advance_user_offsets(p, ptrs, at, result)
    return result


STATX_MODE_AT = 28


def _copy_range_emulated(p: LinuxPlatform, src: OpenFile, out: OpenFile) -> int:
    """copy_file_range with an emulated /proc entry at one end: Linux's checks, in its order,
    end it before any byte moves (/proc is another filesystem than any host file's)."""
    if procfs.PROC_DIR in (src.kind, out.kind):
        return -EISDIR
    if out.kind in procfs.KINDS:
        return -EBADF  # opened read-only
    result, data = p.host_call(lambda: p.live.fstat(out, True))
    if result < 0:
        return result
    mode = struct.unpack_from("<H", data, STATX_MODE_AT)[0]
    if mode & 0o170000 == 0o040000:
        return -EISDIR
    return -EXDEV if mode & 0o170000 == 0o100000 else -EINVAL


@syscall("copy_file_range", kind=Kind.HOST)
def sys_copy_file_range(p: LinuxPlatform, a: Args) -> int:
    if a[5]:
        return -EINVAL  # no flags are defined
    src, out = open_file(p, a[0]), open_file(p, a[2])
    if src is None or out is None:
        return -EBADF
    if src.kind in procfs.KINDS or out.kind in procfs.KINDS:
        return _copy_range_emulated(p, src, out)
    ptrs = (a[1], a[3])
    at = _user_offsets(p, ptrs)
    if at is None:
        return -EINVAL
    result, _ = p.host_call(lambda: p.live.copy_file_range(src, out, at[0], at[1], a[4]))
    if result > 0:
        _advance_user_offsets(p, ptrs, at, result)
    return result
