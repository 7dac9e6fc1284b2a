"""The host side of syscalls during recording: real files, real stdio, real clocks.

Only `LiveInputs` ever calls into this module (through the closures the syscall handlers
pass it), so replay cannot touch the host filesystem, clock or terminal.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import re
import resource
import select
import socket
import stat
import struct
import time
from collections.abc import Callable
from typing import Protocol

from ..filestore import MAX_FILE_SIZE, FileStore
from ..inputs import HostInterrupted
from .fdtable import OpenFile
from .sharedfiles import HostSharedFiles
from .structs import pack_dirents, pack_stat

# What a host wait watches: (host fd, poll events) pairs; it ends when any of them is ready.
HostWatch = tuple[tuple[int, int], ...]

Outcome = tuple[int, bytes]
SpanOutcome = tuple[int, bytes, bytes]  # (result, payload, where the payload is stored)
# A file read (not mapped) is stored whole up to this size; past it, what is read is logged.
READ_STORE_LIMIT = 64 << 20
# A path whose content changed this often while being read is logged as read from then on
# (a file the program rewrites and rereads would otherwise be stored again and again).
MAX_VERSIONS = 8
DEV_ZERO = os.makedev(1, 5)
O_DIRECTORY = 0o200000
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000

STATFS_SIZE = 120
SYSINFO_SIZE = 112
ITIMERVAL_SIZE = 32  # two struct timevals, the same on every 64-bit architecture
EPOLL_CLOEXEC = 0o2000000


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _EpollEvent(ctypes.Structure):
    _fields_ = (("events", ctypes.c_uint32), ("data", ctypes.c_uint64))


class _PackedEpollEvent(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("events", ctypes.c_uint32), ("data", ctypes.c_uint64))


# x86-64's struct epoll_event is packed (12 bytes); elsewhere data is 8-byte aligned.
_HostEpollEvent = _PackedEpollEvent if platform.machine() == "x86_64" else _EpollEvent


# The calls Python's os module does not offer with the kernel's semantics (renameat2 flags,
# UTIME_NOW/UTIME_OMIT, struct statfs as is, faccessat's errno).
_libc = ctypes.CDLL(None, use_errno=True)


SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage)
STATX_SIZE = 256
# What statx asks the host for: every field Linux 6.x knows (basic stats, birth time, mount
# id, direct-I/O alignment...); the answer's mask says which ones the file system gave.
STATX_WANTED = 0xFFFF_FFFF & ~0x8000_0000  # all but STATX__RESERVED
AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000


def _statx(dir_fd: int, path: str, flags: int) -> Outcome:
    """The host kernel's own struct statx (one layout on every architecture)."""
    buf = ctypes.create_string_buffer(STATX_SIZE)
    if _libc.statx(dir_fd, os.fsencode(path), flags, STATX_WANTED, buf) != 0:
        return -ctypes.get_errno(), b""
    return 0, buf.raw


def libc_fd_call(name: str, fd: int, *args: int) -> None:
    """Call libc's `name`(fd, 64-bit args...) on a host fd; OSError with its errno on -1."""
    fn = getattr(_libc, name)
    if fn(ctypes.c_int(fd), *(ctypes.c_longlong(a) for a in args)) == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


_DT_FROM_MODE = {0o010000: 1, 0o020000: 2, 0o040000: 4, 0o060000: 6, 0o100000: 8, 0o120000: 10}


_OWN_PROC = re.compile(r"^/proc/(self|thread-self|\d+)(/|$)")


def _is_own(path: str) -> bool:
    m = _OWN_PROC.match(path)
    if m is None:
        return False
    who = m.group(1)
    return not who.isdigit() or int(who) == os.getpid() or os.path.exists(f"/proc/self/task/{who}")


def own_proc_target(path: str, follow: bool = True) -> str | None:
    """The /proc/WHO/REST path the recorder's own /proc entry that `path` reaches, symlinks
    followed one by one (/etc/mtab: /proc/PID/mounts), or None when it reaches none."""
    parts = [c for c in path.split("/") if c]
    cur = "/"
    hops = 0
    while parts and hops < 40:  # Linux's own limit on symlinks followed
        comp = parts.pop(0)
        if comp == ".":
            continue
        if comp == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, comp)
        # Passing through an entry only to come back out of it ("/proc/self/..", which ls -a
        # of /proc/self asks about) reaches nothing inside it.
        if _is_own(nxt) and not (parts and parts[0] == ".."):
            return "/".join([nxt, *parts])
        try:
            is_link = stat.S_ISLNK(os.lstat(nxt).st_mode)
        except OSError:
            return None  # nothing there: nothing further can exist either
        if is_link and (parts or follow):
            hops += 1
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = "/"
            parts = [c for c in target.split("/") if c] + parts
            continue
        cur = nxt
    return None


def reaches_own_proc(path: str, follow: bool = True) -> bool:
    """Whether `path`, symlinks followed one by one, names the recorder's own /proc entry."""
    return own_proc_target(path, follow) is not None


def would_block_writing(fd: int) -> HostWatch | None:
    """What to watch (the fd, for output) when a write to this blocking host pipe or socket
    would wait now; None when it would not (or the fd does not wait)."""
    try:
        if not os.get_blocking(fd):
            return None
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return None if poller.poll(0) else ((fd, select.POLLOUT),)
    except OSError:
        return None  # the write itself reports the error


def guarded(fn: Callable[[], Outcome]) -> Outcome:
    """Run a host operation, turning OSError into the negative errno Linux would return."""
    try:
        return fn()
    except OSError as err:
        return -(err.errno or errno.EIO), b""


def _position(fd: int) -> int:
    """The file offset of a host fd, or -1 when it has none (a terminal, a socket)."""
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return -1


def guarded_span(fn: Callable[[], SpanOutcome]) -> SpanOutcome:
    """`guarded` for a read that may name where its bytes are stored."""
    try:
        return fn()
    except OSError as err:
        return -(err.errno or errno.EIO), b"", b""


class TerminalUse(Protocol):
    """Told around each read and write of the recorder's stdin, stdout and stderr (a progress
    display on the same terminal gets out of the guest's way)."""

    def before(self, fd: int) -> None: ...

    def after(self, fd: int, data: bytes) -> None: ...


class HostIO:
    """Host file descriptors behind the guest's open-file descriptions, and host queries."""

    def __init__(
        self,
        program_path: str,
        stat_layout: str = "x86_64",
        files: FileStore | None = None,
        sysroot: str | None = None,
    ) -> None:
        self.fds: dict[int, int] = {0: 0, 1: 1, 2: 2}  # description ident -> host fd
        self.dir_entries: dict[int, list[tuple[int, int, str]]] = {}
        self.program_path = program_path
        self._ready_fd: int | None = None
        self.stat_layout = stat_layout
        self.files = files if files is not None else FileStore()
        self.sysroot = sysroot
        self._known: dict[tuple[int, int, int, int], bytes] = {}  # (dev, ino, size, mtime)
        self.opened: set[str] = set()  # every host path the guest opened, for `ttdbg info`
        # Bytes read from files whose content is not stored (logged as read), by guest path.
        self.inline: dict[str, int] = {}
        self._read_versions: dict[str, set[bytes]] = {}  # contents stored for a path read
        self.terminal: TerminalUse | None = None
        # Set by the recorder once the timer signals it arms on the guest's behalf come back
        # to it (and go on to the guest): only then may the guest arm host timers.
        self.signals_caught = False
        # Per host epoll fd: host fd -> the guest's epoll_data for it (the host's own data
        # field holds the host fd, so a ready event finds its guest data here).
        self.epoll_data: dict[int, dict[int, int]] = {}
        # The files the guest maps shared, written back through descriptors of their own.
        self.shared = HostSharedFiles()
        # Host fds of the blocking sockets whose connect is under way without the recorder
        # waiting for it (see hostsockets.begin_connect).
        self.connecting: set[int] = set()

    def contain(self, path: str, dir_fd: int | None = None, follow: bool = True) -> str:
        """`path`, unless it reaches the recorder's own /proc entries (through /proc/self,
        /dev/fd, a symlink or a directory fd): then PermissionError, EACCES to the guest."""
        if not path.startswith("/"):
            where = os.getcwd() if dir_fd is None else os.readlink(f"/proc/self/fd/{dir_fd}")
            path = f"{where}/{path}"
        if reaches_own_proc(path, follow):
            raise PermissionError(errno.EACCES, "the recorder's own /proc entries", path)
        return path

    def own_proc_path(self, path: str, dir_fd: int | None = None, follow: bool = True) -> Outcome:
        """Where in the recorder's own /proc a path refused for reaching it leads (0 and the
        /proc/WHO/REST path), to be served as the guest's own entry; -EACCES if nowhere."""

        def run() -> Outcome:
            where = path
            if not path.startswith("/"):
                base = os.getcwd() if dir_fd is None else os.readlink(f"/proc/self/fd/{dir_fd}")
                where = f"{base}/{path}"
            target = own_proc_target(where, follow)
            return (-errno.EACCES, b"") if target is None else (0, os.fsencode(target))

        return guarded(run)

    def host_path(self, path: str, dir_fd: int | None = None, follow: bool = True) -> str:
        """Where an absolute guest path is on the host: under the sysroot when it exists
        there, as qemu-user's -L does, else the path itself. Never the recorder's /proc."""
        self.contain(path, dir_fd, follow)
        if self.sysroot and path.startswith("/"):
            inside = self.sysroot.rstrip("/") + path
            if os.path.lexists(inside):
                return inside
        return path

    def _stored(self, fd: int, path: str, limit: int) -> tuple[bytes, bytes] | int:
        """(digest, content) of the regular file behind host `fd`, stored under `path` once
        per version of it; or a negative errno: -ENODEV for anything but a regular file,
        -EFBIG past `limit`, -EAGAIN when its content is not what its size says (a /proc or
        /sys file) or changes while it is read."""
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return -errno.ENODEV
        if st.st_size > limit:
            return -errno.EFBIG
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._known.get(key)
        data = self.files.get(known) if known is not None else None
        if known is None or data is None:
            chunks, at = [], 0
            # Reads sized to what is left (plus a byte, to see a file that grew): a buffer of
            # the largest read for a small file costs more than the read.
            while at <= st.st_size and (
                chunk := os.pread(fd, min(1 << 24, st.st_size - at + 1), at)
            ):
                chunks.append(chunk)
                at += len(chunk)
            data = b"".join(chunks)
            if len(data) != st.st_size:
                return -errno.EAGAIN
        # Content already stored keeps its digest: a library is read and mapped a few times.
        digest = self._known[key] = self.files.add(path, data, known)
        return digest, data

    def map_file(self, f: OpenFile) -> Outcome:
        """Store the content of the regular file behind `f` (once per version of it);
        the payload is its digest and size. Result 1 for /dev/zero, which maps as anonymous
        memory."""

        def run() -> Outcome:
            fd = self.fd(f)
            st = os.fstat(fd)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == DEV_ZERO:
                return 1, b""
            got = self._stored(fd, f.path, MAX_FILE_SIZE)
            if got == -errno.EFBIG:
                return -errno.ENOMEM, b""
            if got == -errno.EAGAIN:
                return -errno.ENODEV, b""
            if isinstance(got, int):
                return got, b""
            digest, data = got
            return 0, digest + len(data).to_bytes(8, "little")

        return guarded(run)

    def map_shared(self, f: OpenFile, fresh: int, known: frozenset[int]) -> Outcome:
        """`map_file` for a shared mapping; the payload ends with the file's ident (u32): the
        one its other shared mappings have (`known`), else `fresh`."""
        got, payload = self.map_file(f)
        if got != 0:
            return got, payload
        writable = f.flags & os.O_ACCMODE == os.O_RDWR
        return guarded(
            lambda: (
                0,
                payload
                + self.shared.adopt(self.fd(f), writable, known, fresh).to_bytes(4, "little"),
            )
        )

    def _span(self, f: OpenFile, fd: int, at: int, data: bytes) -> bytes:
        """Where `data`, read at offset `at` of the file behind `f`, lies in the recording's
        copy of that file (digest | u64 offset); b"" when it goes into the log as it is: a
        descriptor open for writing (its file changes under it), not a regular file, a file
        too large or rewritten too often, or bytes that differ from the stored copy."""
        if f.kind != "file" or not data:
            return b""
        seen = self._read_versions.setdefault(f.path, set())
        storable = at >= 0 and f.flags & os.O_ACCMODE == os.O_RDONLY and len(seen) < MAX_VERSIONS
        got = self._stored(fd, f.path, READ_STORE_LIMIT) if storable else -1
        if isinstance(got, int) or got[1][at : at + len(data)] != data:
            self.inline[f.path] = self.inline.get(f.path, 0) + len(data)
            return b""
        seen.add(got[0])
        return got[0] + at.to_bytes(8, "little")

    def fd(self, f: OpenFile) -> int:
        return self.fds[f.ident]

    def open(self, base: OpenFile | None, path: str, flags: int, mode: int) -> Outcome:
        def run() -> Outcome:
            dir_fd = self.dir_fd(base)
            host = self.host_path(path, dir_fd, not flags & os.O_NOFOLLOW)
            if not path.startswith("/"):
                host = path  # relative to the guest's directory fd (or the cwd)
            fd = os.open(host, flags & ~os.O_CLOEXEC | os.O_CLOEXEC, mode, dir_fd=dir_fd)
            self.opened.add(os.readlink(f"/proc/self/fd/{fd}"))
            return fd, b""

        return guarded(run)

    def reopen(self, f: OpenFile, flags: int) -> Outcome:
        """open("/dev/fd/N"): a new description of the guest's file N, as Linux reopens it."""

        def run() -> Outcome:
            fd = os.open(f"/proc/self/fd/{self.fd(f)}", flags & ~os.O_CLOEXEC | os.O_CLOEXEC)
            return fd, b""

        return guarded(run)

    def fd_link(self, f: OpenFile) -> Outcome:
        """readlink("/proc/self/fd/N") for the guest's fd N: its host file's name."""

        def run() -> Outcome:
            data = os.fsencode(os.readlink(f"/proc/self/fd/{self.fd(f)}"))
            return len(data), data

        return guarded(run)

    def always_ready(self) -> int:
        """A host fd that poll() reports readable and writable at once, for emulated files."""
        if self._ready_fd is None:
            self._ready_fd = os.open("/dev/zero", os.O_RDWR | os.O_CLOEXEC)
        return self._ready_fd

    def would_block_reading(self, f: OpenFile) -> HostWatch | None:
        """What to watch (the host fd behind `f`, for input) when a read from it would block
        now (a blocking pipe, terminal or socket with nothing to read), else None."""
        fd = self.fds.get(f.ident)
        if fd is None:
            return None
        try:
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
                return None
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return None if poller.poll(0) else ((fd, select.POLLIN),)
        except OSError:
            return None  # the read itself reports the error

    def would_block_polling(self, fds: list[tuple[int | None, int]]) -> HostWatch | None:
        """What to watch when poll() over these host fds (as `poll` takes them) would wait
        now: none of them is ready, nor closed. None: it would return at once."""
        watch = tuple((fd, events) for fd, events in fds if fd is not None and fd >= 0)
        if any(fd is None for fd, _events in fds):
            return None  # POLLNVAL at once
        poller = select.poll()
        for fd, events in watch:
            poller.register(fd, events)
        return None if poller.poll(0) else watch

    def adopt(self, ident: int, host_fd: int) -> None:
        self.fds[ident] = host_fd

    def release(self, ident: int) -> None:
        host_fd = self.fds.pop(ident, None)
        self.dir_entries.pop(ident, None)
        if host_fd is not None and host_fd > 2:
            self.connecting.discard(host_fd)
            os.close(host_fd)

    def _stdio(self, f: OpenFile) -> TerminalUse | None:
        """The terminal hooks, if `f` is the recorder's own stdin, stdout or stderr."""
        return self.terminal if self.terminal is not None and self.fd(f) in (0, 1, 2) else None

    def read(self, f: OpenFile, count: int) -> SpanOutcome:
        def run() -> SpanOutcome:
            fd = self.fd(f)
            at = _position(fd) if f.kind == "file" else -1
            terminal = self._stdio(f)
            if terminal is not None:
                terminal.before(fd)
            data = os.read(fd, min(count, 1 << 24))
            if terminal is not None:
                terminal.after(fd, data)
            return len(data), data, self._span(f, fd, at, data)

        return guarded_span(run)

    def pread(self, f: OpenFile, count: int, offset: int) -> SpanOutcome:
        def run() -> SpanOutcome:
            fd = self.fd(f)
            data = os.pread(fd, min(count, 1 << 24), offset)
            return len(data), data, self._span(f, fd, offset, data)

        return guarded_span(run)

    def write(self, f: OpenFile, data: bytes, keep: bool) -> Outcome:
        def run() -> Outcome:
            terminal = self._stdio(f)
            if terminal is not None:
                terminal.before(self.fd(f))
            n = os.write(self.fd(f), data)
            if terminal is not None:
                terminal.after(self.fd(f), data[:n])
            if keep:
                return n, data[:n]
            if f.kind == "file" and f.flags & os.O_APPEND:
                # Where an appending write left the file offset (the file's end then), for
                # the index: the log holds no file sizes to replay it from.
                return n, os.lseek(self.fd(f), 0, os.SEEK_CUR).to_bytes(8, "little")
            return n, b""

        return guarded(run)

    def write_without_waiting(self, f: OpenFile, data: bytes) -> Outcome:
        """write() to a pipe or socket that takes what fits now (the host fd is made
        non-blocking for the call): fewer bytes, or EAGAIN when nothing fits."""

        def run() -> Outcome:
            fd = self.fd(f)
            blocking = os.get_blocking(fd)
            if blocking:
                os.set_blocking(fd, False)
            try:
                return os.write(fd, data), b""
            finally:
                if blocking:
                    os.set_blocking(fd, True)

        return guarded(run)

    def socketpair(
        self, domain: int, kind: int, protocol: int, nonblock: bool, ends: list[int]
    ) -> Outcome:
        """A connected pair of sockets; their host fds go to `ends`, out of the log."""

        def run() -> Outcome:
            a, b = socket.socketpair(domain, kind, protocol)
            ends.extend((a.detach(), b.detach()))
            for fd in ends:
                os.set_blocking(fd, not nonblock)
            return 0, b""

        return guarded(run)

    def socket_name(self, f: OpenFile, peer: bool) -> Outcome:
        """getsockname / getpeername: the raw address, as long as the kernel says."""

        def run() -> Outcome:
            buf = ctypes.create_string_buffer(SOCKADDR_MAX)
            size = ctypes.c_uint32(SOCKADDR_MAX)
            call = _libc.getpeername if peer else _libc.getsockname
            if call(self.fd(f), buf, ctypes.byref(size)) != 0:
                return -ctypes.get_errno(), b""
            return 0, buf.raw[: size.value]

        return guarded(run)

    def send(self, f: OpenFile, data: bytes, flags: int, address: bytes | None) -> Outcome:
        def run() -> Outcome:
            to, to_len = (None, 0) if address is None else (address, len(address))
            n = _libc.sendto(self.fd(f), data, ctypes.c_size_t(len(data)), flags, to, to_len)
            return (-ctypes.get_errno(), b"") if n < 0 else (n, b"")

        return guarded(run)

    def recv(self, f: OpenFile, count: int, flags: int) -> SpanOutcome:
        def run() -> SpanOutcome:
            buf = ctypes.create_string_buffer(max(count, 1))
            n = _libc.recvfrom(self.fd(f), buf, ctypes.c_size_t(count), flags, None, None)
            if n < 0:
                return -ctypes.get_errno(), b"", b""
            return n, buf.raw[: min(n, count)], b""  # MSG_TRUNC: n is the datagram's length

        return guarded_span(run)

    def recv_from(self, f: OpenFile, count: int, flags: int) -> Outcome:
        """recvfrom with the sender's address: its length (u32), the address, the bytes."""

        def run() -> Outcome:
            buf = ctypes.create_string_buffer(max(count, 1))
            addr = ctypes.create_string_buffer(SOCKADDR_MAX)
            size = ctypes.c_uint32(SOCKADDR_MAX)
            fd = self.fd(f)
            n = _libc.recvfrom(fd, buf, ctypes.c_size_t(count), flags, addr, ctypes.byref(size))
            if n < 0:
                return -ctypes.get_errno(), b""
            name = addr.raw[: min(size.value, SOCKADDR_MAX)]
            return n, struct.pack("<I", len(name)) + name + buf.raw[: min(n, count)]

        return guarded(run)

    def shutdown(self, f: OpenFile, how: int) -> Outcome:
        return self.fd_op(f, lambda fd: libc_fd_call("shutdown", fd, how))

    def set_status_flag(self, f: OpenFile, bit: int, on: bool) -> Outcome:
        """fcntl(F_SETFL) turning O_APPEND or O_NONBLOCK on or off on the host descriptor
        behind `f`, which does the appending and the not waiting."""

        def run() -> Outcome:
            fd = self.fd(f)
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | bit if on else flags & ~bit)
            return 0, b""

        return guarded(run)

    def pwrite(self, f: OpenFile, data: bytes, offset: int) -> Outcome:
        return guarded(lambda: (os.pwrite(self.fd(f), data, offset), b""))

    def copy_file_range(
        self, src: OpenFile, out: OpenFile, src_at: int | None, out_at: int | None, count: int
    ) -> Outcome:
        """copy_file_range between two host files; an offset of None uses and moves the
        file's own offset, as the kernel does for a NULL offset pointer."""
        return guarded(
            lambda: (
                os.copy_file_range(self.fd(src), self.fd(out), min(count, 1 << 24), src_at, out_at),
                b"",
            )
        )

    def lseek(self, f: OpenFile, offset: int, whence: int) -> Outcome:
        self.dir_entries.pop(f.ident, None)  # rewinddir: the next getdents starts over
        return guarded(lambda: (os.lseek(self.fd(f), offset, whence), b""))

    def fstat(self, f: OpenFile, statx: bool = False) -> Outcome:
        def run() -> Outcome:
            if statx:
                return _statx(self.fd(f), "", AT_EMPTY_PATH)
            st = os.fstat(self.fd(f))
            return 0, pack_stat(st, self.stat_layout)

        return guarded(run)

    def dir_fd(self, base: OpenFile | None) -> int | None:
        """The host fd of the directory a relative path starts from (None: the cwd)."""
        return None if base is None else self.fds[base.ident]

    def stat(
        self, path: str, follow: bool, statx: bool = False, dir_fd: int | None = None
    ) -> Outcome:
        def run() -> Outcome:
            where = self.host_path(path, dir_fd, follow)
            if statx:
                nofollow = 0 if follow else AT_SYMLINK_NOFOLLOW
                return _statx(AT_FDCWD if dir_fd is None else dir_fd, where, nofollow)
            st = os.stat(where, dir_fd=dir_fd, follow_symlinks=follow)
            return 0, pack_stat(st, self.stat_layout)

        return guarded(run)

    def getdents(self, f: OpenFile, limit: int) -> Outcome:
        def run() -> Outcome:
            entries = self.dir_entries.get(f.ident)
            if entries is None:
                fd = self.fd(f)
                entries = [(os.stat(d, dir_fd=fd).st_ino, 4, d) for d in (".", "..")]
                with os.scandir(self.fd(f)) as it:
                    for e in it:
                        mode = e.stat(follow_symlinks=False).st_mode & 0o170000
                        entries.append((e.inode(), _DT_FROM_MODE.get(mode, 0), e.name))
                self.dir_entries[f.ident] = entries
            data, count = pack_dirents(entries, limit)
            if count == 0 and entries:
                return -errno.EINVAL, b""
            del entries[:count]
            return len(data), data

        return guarded(run)

    def readlink(self, path: str, size: int, dir_fd: int | None = None) -> Outcome:
        def run() -> Outcome:
            if path == "/proc/self/exe":
                target = self.program_path
            else:
                self.contain(path, dir_fd, follow=False)
                target = os.readlink(path, dir_fd=dir_fd)
            data = os.fsencode(target)[:size]
            return len(data), data

        return guarded(run)

    def _xattr_target(self, target: OpenFile | str, follow: bool) -> int | str:
        """The host fd or the contained path an xattr call acts on."""
        if isinstance(target, OpenFile):
            return self.fd(target)
        return self.contain(target, None, follow)

    @staticmethod
    def _follows(where: int | str, follow: bool) -> bool:
        return follow or isinstance(where, int)  # Python refuses the flag with an fd

    def xattr_get(self, target: OpenFile | str, name: bytes, follow: bool) -> Outcome:
        """getxattr: the whole value (the guest's buffer is checked against it later)."""

        def run() -> Outcome:
            where = self._xattr_target(target, follow)
            value = os.getxattr(where, name, follow_symlinks=self._follows(where, follow))
            return len(value), value

        return guarded(run)

    def xattr_list(self, target: OpenFile | str, follow: bool) -> Outcome:
        """listxattr: every name, each ended by a NUL, in the order the kernel lists them."""

        def run() -> Outcome:
            where = self._xattr_target(target, follow)
            names = b"".join(
                os.fsencode(n) + b"\0"
                for n in os.listxattr(where, follow_symlinks=self._follows(where, follow))
            )
            return len(names), names

        return guarded(run)

    def xattr_set(
        self, target: OpenFile | str, name: bytes, value: bytes, flags: int, follow: bool
    ) -> Outcome:
        def run() -> Outcome:
            where = self._xattr_target(target, follow)
            os.setxattr(where, name, value, flags, follow_symlinks=self._follows(where, follow))
            return 0, b""

        return guarded(run)

    def xattr_remove(self, target: OpenFile | str, name: bytes, follow: bool) -> Outcome:
        def run() -> Outcome:
            where = self._xattr_target(target, follow)
            os.removexattr(where, name, follow_symlinks=self._follows(where, follow))
            return 0, b""

        return guarded(run)

    def access(
        self, path: str, mode: int, dir_fd: int | None, follow: bool, effective: bool
    ) -> Outcome:
        """faccessat2; a false answer is reported with the errno the kernel gave."""

        def run() -> Outcome:
            # os.access hides the errno (ENOENT vs EACCES vs ENOTDIR): ask libc directly.
            flags = (0 if follow else 0x100) | (0x200 if effective else 0)
            dirfd = AT_FDCWD if dir_fd is None else dir_fd
            if (
                _libc.faccessat(
                    dirfd, os.fsencode(self.host_path(path, dir_fd, follow)), mode, flags
                )
                == 0
            ):
                return 0, b""
            return -ctypes.get_errno(), b""

        return guarded(run)

    def rename(
        self, src: str, src_dir: int | None, dst: str, dst_dir: int | None, flags: int
    ) -> Outcome:
        def run() -> Outcome:
            self.contain(src, src_dir, follow=False)
            self.contain(dst, dst_dir, follow=False)
            if not flags:
                os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
                return 0, b""
            at = (AT_FDCWD if d is None else d for d in (src_dir, dst_dir))
            olddir, newdir = at
            if _libc.renameat2(olddir, os.fsencode(src), newdir, os.fsencode(dst), flags) != 0:
                return -ctypes.get_errno(), b""
            return 0, b""

        return guarded(run)

    def link(
        self, src: str, src_dir: int | None, dst: str, dst_dir: int | None, flags: int
    ) -> Outcome:
        """linkat with the guest's flags (os.link's follow_symlinks calls link(), which does
        not follow)."""
        olddir, newdir = (AT_FDCWD if d is None else d for d in (src_dir, dst_dir))
        if _libc.linkat(olddir, os.fsencode(src), newdir, os.fsencode(dst), flags) != 0:
            return -ctypes.get_errno(), b""
        return 0, b""

    def utimens(
        self,
        target: str | int,
        dir_fd: int | None,
        times: tuple[tuple[int, int], ...],
        follow: bool,
    ) -> Outcome:
        """utimensat / futimens with the guest's two timespecs (UTIME_NOW, UTIME_OMIT kept)."""
        spec = (_Timespec * 2)(*(_Timespec(s, n) for s, n in times))
        if isinstance(target, str):
            try:
                self.contain(target, dir_fd, follow)
            except PermissionError:
                return -errno.EACCES, b""
        if isinstance(target, int):
            ok = _libc.futimens(target, spec) == 0
        else:
            dirfd = AT_FDCWD if dir_fd is None else dir_fd
            flags = 0 if follow else AT_SYMLINK_NOFOLLOW
            ok = _libc.utimensat(dirfd, os.fsencode(target), spec, flags) == 0
        return (0, b"") if ok else (-ctypes.get_errno(), b"")

    def statfs(self, target: str | int) -> Outcome:
        """struct statfs (120 bytes, one layout on every 64-bit architecture ttdbg runs)."""
        buf = ctypes.create_string_buffer(STATFS_SIZE)
        if isinstance(target, str):
            try:
                self.contain(target)
            except PermissionError:
                return -errno.EACCES, b""
        if isinstance(target, int):
            ok = _libc.fstatfs(target, buf) == 0
        else:
            ok = _libc.statfs(os.fsencode(target), buf) == 0
        return (0, buf.raw) if ok else (-ctypes.get_errno(), b"")

    def ioctl(self, f: OpenFile, request: int, size: int) -> Outcome:
        def run() -> Outcome:
            data = fcntl.ioctl(self.fd(f), request, b"\0" * size)
            return 0, bytes(data)

        return guarded(run)

    def fcntl_getfl(self, f: OpenFile) -> Outcome:
        return guarded(lambda: (fcntl.fcntl(self.fd(f), fcntl.F_GETFL), b""))

    def fd_op(self, f: OpenFile, fn: Callable[[int], object]) -> Outcome:
        """An operation on the host file behind `f` that returns only a status."""

        def run() -> Outcome:
            fn(self.fd(f))
            return 0, b""

        return guarded(run)

    def record_lock(self, f: OpenFile, cmd: int, flock: bytes) -> Outcome:
        """fcntl F_*LK*: the lock is taken on the host file; the struct flock comes back."""
        return guarded(lambda: (0, bytes(fcntl.fcntl(self.fd(f), cmd, flock))))

    def clock(self, clock_id: int) -> Outcome:
        return guarded(lambda: (0, time.clock_gettime_ns(clock_id).to_bytes(8, "little")))

    def clock_res(self, clock_id: int) -> Outcome:
        spec = _Timespec()
        if _libc.clock_getres(clock_id, ctypes.byref(spec)) != 0:
            return -ctypes.get_errno(), b""
        return 0, bytes(spec)

    def sysinfo(self) -> Outcome:
        """struct sysinfo as the host kernel fills it (112 bytes on every 64-bit target)."""
        buf = ctypes.create_string_buffer(SYSINFO_SIZE)
        if _libc.sysinfo(buf) != 0:
            return -ctypes.get_errno(), b""
        return 0, buf.raw

    def sleep(self, ns: int) -> Outcome:
        """Sleep `ns`; a signal the guest takes ends it early: EINTR and the time left."""
        end = time.monotonic_ns() + max(0, ns)
        try:
            time.sleep(max(0, ns) / 1e9)
        except HostInterrupted:
            return -errno.EINTR, max(0, end - time.monotonic_ns()).to_bytes(8, "little")
        return 0, b""

    def getrandom(self, size: int) -> Outcome:
        data = os.urandom(min(size, 1 << 20))
        return len(data), data

    def uname(self) -> Outcome:
        u = os.uname()
        fields = (u.sysname, u.nodename, u.release, u.version, u.machine)
        return 0, "\0".join(fields).encode()

    def own_process(self) -> Outcome:
        """The recorder's /proc/self/status and stat, NUL-separated: what the guest inherits
        from the process that started it (ids, credentials, start time, CPU times, ...)."""

        def run() -> Outcome:
            texts = []
            for name in ("status", "stat"):
                with open(f"/proc/self/{name}", "rb") as f:
                    texts.append(f.read())
            return 0, b"\0".join(texts)

        return guarded(run)

    def rlimit(self, number: int) -> Outcome:
        """The recorder's soft and hard limit of resource `number` (RLIM_INFINITY all ones)."""

        def run() -> Outcome:
            limits = resource.getrlimit(number)
            packed = [(1 << 64) - 1 if v == resource.RLIM_INFINITY else v for v in limits]
            return 0, struct.pack("<QQ", *packed)

        return guarded(run)

    def proc_owner(self) -> Outcome:
        """The recorder's /proc/self: when it was made (ns) and its owner's uid and gid."""

        def run() -> Outcome:
            st = os.stat("/proc/self")
            return 0, struct.pack("<qII", st.st_mtime_ns, st.st_uid, st.st_gid)

        return guarded(run)

    def mount_table(self, name: str) -> Outcome:
        """The recorder's /proc/self/mountinfo or mounts: the guest would run in the same
        mount namespace, so this is the table it would read."""
        if name not in ("mountinfo", "mounts"):
            return -errno.ENOENT, b""

        def run() -> Outcome:
            with open(f"/proc/self/{name}", "rb") as f:
                data = f.read()
            return len(data), data

        return guarded(run)

    def getcwd(self) -> Outcome:
        return guarded(lambda: (0, os.fsencode(os.getcwd())))

    def path_op(self, fn: Callable[[], object]) -> Outcome:
        """A filesystem change the guest asked for (unlink, mkdir, rename, ...)."""

        def run() -> Outcome:
            fn()
            return 0, b""

        return guarded(run)

    def poll(self, fds: list[tuple[int | None, int]], timeout_ms: int) -> Outcome:
        """poll() over host fds (-1: skipped, None: not open); payload: revents, 2 bytes each."""

        def run() -> Outcome:
            poller = select.poll()
            for host_fd, events in fds:
                if host_fd is not None and host_fd >= 0:
                    poller.register(host_fd, events)
            ready = dict(poller.poll(timeout_ms)) if fds or timeout_ms else {}
            revents = [0x20 if h is None else ready.get(h, 0) if h >= 0 else 0 for h, _e in fds]
            return sum(1 for r in revents if r), b"".join(r.to_bytes(2, "little") for r in revents)

        return guarded(run)

    def sendfile(
        self, out: OpenFile, src: OpenFile, offset: int | None, count: int, keep: bool
    ) -> Outcome:
        """sendfile as a read and a write, so what reaches stdout is also in the log."""

        def run() -> Outcome:
            if fcntl.fcntl(self.fd(out), fcntl.F_GETFL) & os.O_APPEND:
                return -errno.EINVAL, b""  # as Linux: sendfile never appends
            size = min(count, 1 << 24)
            src_fd = self.fd(src)
            data = os.pread(src_fd, size, offset) if offset is not None else os.read(src_fd, size)
            n = os.write(self.fd(out), data) if data else 0
            if offset is None and n < len(data):
                os.lseek(src_fd, n - len(data), os.SEEK_CUR)
            return n, data[:n] if keep else b""

        return guarded(run)

    # -- timers and waiting for signals --------------------------------------------------------

    def itimer(self, which: int, new: bytes | None) -> Outcome:
        """setitimer (with `new`) or getitimer on this process, whose timer signals the
        recorder forwards to the guest; payload: the old (or current) struct itimerval."""
        if not self.signals_caught:
            return -errno.ENOSYS, b""
        old = ctypes.create_string_buffer(ITIMERVAL_SIZE)
        if new is None:
            ok = _libc.getitimer(which, old) == 0
        else:
            value = (ctypes.c_char * ITIMERVAL_SIZE).from_buffer_copy(new)
            ok = _libc.setitimer(which, value, old) == 0
        return (0, old.raw) if ok else (-ctypes.get_errno(), b"")

    def alarm(self, seconds: int) -> Outcome:
        """alarm() on this process: the seconds left of the previous alarm."""
        if not self.signals_caught:
            return -errno.ENOSYS, b""
        return int(_libc.alarm(ctypes.c_uint(seconds))), b""

    def wait_for_signal(self) -> Outcome:
        """Block until a signal the guest takes reaches the recorder (its handler raises
        HostInterrupted, which the inputs answer with EINTR). Without the recorder's
        handlers no signal could ever come: ENOSYS then, rather than waiting for ever."""
        if not self.signals_caught:
            return -errno.ENOSYS, b""
        while True:
            time.sleep(3600)

    # -- epoll ---------------------------------------------------------------------------------

    def epoll_create(self) -> Outcome:
        fd = _libc.epoll_create1(EPOLL_CLOEXEC)
        if fd < 0:
            return -ctypes.get_errno(), b""
        self.epoll_data[fd] = {}
        return fd, b""

    def epoll_ctl(self, ep: OpenFile, op: int, target: OpenFile, events: int, data: int) -> Outcome:
        """epoll_ctl on the host epoll behind `ep` for the host file behind `target`."""
        epfd, fd = self.fd(ep), self.fd(target)
        event = _HostEpollEvent(events, fd)
        if _libc.epoll_ctl(epfd, op, fd, ctypes.byref(event)) != 0:
            return -ctypes.get_errno(), b""
        if op == 2:  # EPOLL_CTL_DEL
            self.epoll_data.setdefault(epfd, {}).pop(fd, None)
        else:
            self.epoll_data.setdefault(epfd, {})[fd] = data
        return 0, b""

    def epoll_wait(self, ep: OpenFile, maxevents: int, timeout_ms: int, packed: bool) -> Outcome:
        """epoll_wait on the host; payload: the ready events in the guest's struct layout."""
        epfd = self.fd(ep)
        ready = (_HostEpollEvent * maxevents)()
        deadline = time.monotonic_ns() + timeout_ms * 1_000_000 if timeout_ms > 0 else None
        while True:
            n = _libc.epoll_wait(epfd, ready, maxevents, timeout_ms)
            # A signal the guest does not take (blocked, ignored) does not end the wait: the
            # recorder's handler raised HostInterrupted by now if it does.
            if n >= 0 or ctypes.get_errno() != errno.EINTR:
                break
            if deadline is not None:
                timeout_ms = max(0, -(-(deadline - time.monotonic_ns()) // 1_000_000))
        if n < 0:
            return -ctypes.get_errno(), b""
        data = self.epoll_data.get(epfd, {})
        layout = "<IQ" if packed else "<I4xQ"
        out = b"".join(
            struct.pack(layout, ready[i].events, data.get(ready[i].data, 0)) for i in range(n)
        )
        return n, out

    # -- anonymous files and scheduling --------------------------------------------------------

    def memfd(self, name: str, flags: int) -> Outcome:
        """A host memfd: the anonymous file the guest reads and writes through its fd."""
        return guarded(lambda: (os.memfd_create(name, flags | os.MFD_CLOEXEC), b""))

    def priority(self, which: int, who: int, value: int | None) -> Outcome:
        """getpriority (as the kernel returns it: 20 - nice) or setpriority."""

        def run() -> Outcome:
            if value is None:
                return 20 - os.getpriority(which, who), b""
            os.setpriority(which, who, value)
            return 0, b""

        return guarded(run)

    def scheduler(self, pid: int) -> Outcome:
        """sched_getscheduler and sched_getparam: the policy, and the priority as payload."""

        def run() -> Outcome:
            policy = os.sched_getscheduler(pid)
            return policy, struct.pack("<i", os.sched_getparam(pid).sched_priority)

        return guarded(run)
