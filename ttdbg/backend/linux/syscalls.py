"""The Linux syscall table: one handler per syscall name, shared by every architecture.

A handler reads its arguments from guest memory, asks the outside world only through
`Platform.host_call` (logged when recording, replayed from the log), and applies the answer to
the guest in the same way in both modes. It returns the syscall's result (negative errno on
failure), or None when it set the registers itself.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ttdbg.errors import GuestError

from .fdtable import OpenFile
from .host import HostIO, Outcome
from .memory import MAP_ANONYMOUS
from .platform import LinuxPlatform
from .signals import NSIG, SIGKILL, SIGSTOP, SigAction
from .structs import pack_rusage, pack_timespec, pack_timeval, pack_utsname

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


def _path(p: LinuxPlatform, addr: int) -> str:
    return os.fsdecode(p.m.read_cstring(addr))


def _dir_path(p: LinuxPlatform, dirfd: int) -> str | None:
    """The path a *at() call is relative to, as the host will see it (None for the cwd)."""
    if fd_arg(dirfd) == AT_FDCWD:
        return None
    f = p.fds.get(fd_arg(dirfd))
    return f.path if f else None


def _file(p: LinuxPlatform, fd: int) -> OpenFile | None:
    return p.fds.get(fd_arg(fd))


# -- file descriptors ---------------------------------------------------------------------------


def _open(p: LinuxPlatform, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    path = _path(p, path_addr)
    base = _dir_path(p, dirfd)
    if fd_arg(dirfd) != AT_FDCWD and base is None and not path.startswith("/"):
        return -EBADF
    full = path if base is None or path.startswith("/") else f"{base}/{path}"
    opened: list[int] = []

    def host() -> tuple[int, bytes]:
        assert p.host is not None
        result, _ = p.host.open(base, path, flags, mode)
        if result < 0:
            return result, b""
        opened.append(result)
        # The guest fd comes from the guest's own table; the log keeps only what it opened.
        return 0, b"dir" if os.path.isdir(f"/proc/self/fd/{result}") else b"file"

    result, kind = p.host_call(host)
    if result < 0:
        return result
    fd = p.fds.open(kind.decode(), full, flags & ~O_CLOEXEC, bool(flags & O_CLOEXEC))
    if fd < 0 and opened:
        os.close(opened[0])
    elif p.host is not None and opened:
        p.host.adopt(p.fds.files[fd].ident, opened[0])
    return fd


@syscall("open")
def sys_open(p: LinuxPlatform, a: Args) -> int:
    return _open(p, AT_FDCWD, a[0], a[1], a[2])


@syscall("creat")
def sys_creat(p: LinuxPlatform, a: Args) -> int:
    return _open(p, AT_FDCWD, a[0], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, a[1])


@syscall("openat")
def sys_openat(p: LinuxPlatform, a: Args) -> int:
    return _open(p, a[0], a[1], a[2], a[3])


@syscall("close")
def sys_close(p: LinuxPlatform, a: Args) -> int:
    f = p.fds.close(fd_arg(a[0]))
    if f is None:
        return -EBADF
    if p.host is not None and not p.fds.is_shared(f.ident):
        p.host.release(f.ident)
    return 0


@syscall("dup")
def sys_dup(p: LinuxPlatform, a: Args) -> int:
    return p.fds.dup(fd_arg(a[0]))


@syscall("dup2", "dup3")
def sys_dup2(p: LinuxPlatform, a: Args) -> int:
    old, new = fd_arg(a[0]), fd_arg(a[1])
    is_dup3 = p.syscall_nr == p.arch.syscall_numbers.get("dup3")
    if _file(p, old) is None or new < 0:
        return -EBADF
    if old == new:
        return -EINVAL if is_dup3 else new
    if _file(p, new) is not None:
        sys_close(p, (new,))
    return p.fds.dup(old, new, cloexec=is_dup3 and bool(a[2] & O_CLOEXEC))


@syscall("fcntl")
def sys_fcntl(p: LinuxPlatform, a: Args) -> int:
    fd, cmd, arg = fd_arg(a[0]), a[1] & 0xFFFFFFFF, a[2]
    f = _file(p, fd)
    if f is None:
        return -EBADF
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return p.fds.dup(fd, cloexec=cmd == F_DUPFD_CLOEXEC, start=arg)
    if cmd == F_GETFD:
        return 1 if fd in p.fds.cloexec else 0
    if cmd == F_SETFD:
        (p.fds.cloexec.add if arg & 1 else p.fds.cloexec.discard)(fd)
        return 0
    if cmd == F_GETFL:
        if f.kind in STDIO_KINDS:
            return p.host_call(lambda: p.live.fcntl_getfl(f))[0]
        return f.flags
    if cmd == F_SETFL:
        f.flags = (f.flags & O_ACCMODE) | (arg & ~O_ACCMODE)
        return 0
    return -EINVAL


@syscall("ioctl")
def sys_ioctl(p: LinuxPlatform, a: Args) -> int:
    fd, request, argp = a[0], a[1] & 0xFFFFFFFF, a[2]
    f = _file(p, fd)
    if f is None:
        return -EBADF
    size = IOCTL_SIZES.get(request)
    if size is None:
        return -ENOTTY if request in (0x5402, 0x5403, 0x5404, 0x5410) else -EINVAL
    result, data = p.host_call(lambda: p.live.ioctl(f, request, size))
    if result >= 0 and data:
        p.m.write(argp, data)
    return result


# -- reading and writing ------------------------------------------------------------------------


def _read_into(
    p: LinuxPlatform, fd: int, buf: int, op: Callable[[HostIO, OpenFile], Outcome]
) -> int:
    """A read-like syscall: the host fills `buf` through `op` (or the log does)."""
    f = _file(p, fd)
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
    f = _file(p, a[0])
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
    f = _file(p, a[0])
    if f is None:
        return -EBADF
    return _output(p, f, p.m.read(a[1], a[2]))


@syscall("writev")
def sys_writev(p: LinuxPlatform, a: Args) -> int:
    f = _file(p, a[0])
    if f is None:
        return -EBADF
    data = b"".join(p.m.read(base, n) for base, n in _iovecs(p, a[1], a[2]))
    return _output(p, f, data)


@syscall("pwrite64")
def sys_pwrite64(p: LinuxPlatform, a: Args) -> int:
    f = _file(p, a[0])
    if f is None:
        return -EBADF
    data = p.m.read(a[1], a[2])
    return p.host_call(lambda: p.live.pwrite(f, data, a[3]))[0]


@syscall("lseek")
def sys_lseek(p: LinuxPlatform, a: Args) -> int:
    f = _file(p, a[0])
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


# -- file metadata ------------------------------------------------------------------------------


@syscall("fstat")
def sys_fstat(p: LinuxPlatform, a: Args) -> int:
    f = _file(p, a[0])
    if f is None:
        return -EBADF
    result, data = p.host_call(lambda: p.live.fstat(f))
    if result == 0:
        p.m.write(a[1], data)
    return result


def _stat_at(
    p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, flags: int, statx: bool
) -> int:
    path = _path(p, path_addr)
    if not path and flags & AT_EMPTY_PATH:
        f = _file(p, dirfd)
        if f is None:
            return -EBADF
        result, data = p.host_call(lambda: p.live.fstat(f, statx))
    else:
        base = _dir_path(p, dirfd)
        full = path if base is None or path.startswith("/") else f"{base}/{path}"
        follow = not flags & AT_SYMLINK_NOFOLLOW
        result, data = p.host_call(lambda: p.live.stat(full, follow, statx))
    if result == 0:
        p.m.write(buf, data)
    return result


@syscall("stat")
def sys_stat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], 0, False)


@syscall("lstat")
def sys_lstat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW, False)


@syscall("newfstatat")
def sys_newfstatat(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[2], a[3], False)


@syscall("statx")
def sys_statx(p: LinuxPlatform, a: Args) -> int:
    return _stat_at(p, a[0], a[1], a[4], a[2], True)


def _readlink(p: LinuxPlatform, dirfd: int, path_addr: int, buf: int, size: int) -> int:
    path = _path(p, path_addr)
    base = _dir_path(p, dirfd)
    full = path if base is None or path.startswith("/") else f"{base}/{path}"
    result, data = p.host_call(lambda: p.live.readlink(full, size))
    if result > 0:
        p.m.write(buf, data)
    return result


@syscall("readlink")
def sys_readlink(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, AT_FDCWD, a[0], a[1], a[2])


@syscall("readlinkat")
def sys_readlinkat(p: LinuxPlatform, a: Args) -> int:
    return _readlink(p, a[0], a[1], a[2], a[3])


@syscall("access")
def sys_access(p: LinuxPlatform, a: Args) -> int:
    path = _path(p, a[0])
    return p.host_call(lambda: p.live.access(path, a[1]))[0]


@syscall("faccessat", "faccessat2")
def sys_faccessat(p: LinuxPlatform, a: Args) -> int:
    path = _path(p, a[1])
    base = _dir_path(p, a[0])
    full = path if base is None or path.startswith("/") else f"{base}/{path}"
    return p.host_call(lambda: p.live.access(full, a[2]))[0]


@syscall("getcwd")
def sys_getcwd(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.getcwd())
    if result < 0:
        return result
    if len(data) + 1 > a[1]:
        return -ERANGE
    p.m.write(a[0], data + b"\0")
    return len(data) + 1


def _path_change(fn_name: str, nargs: int) -> Handler:
    """A handler for a syscall that changes the filesystem and returns only a status."""

    def handler(p: LinuxPlatform, a: Args) -> int:
        paths = [_path(p, a[i]) for i in range(nargs)]
        extra = a[nargs]
        op = getattr(os, fn_name)

        def run() -> object:
            return op(*paths, extra) if fn_name in ("mkdir", "chmod") else op(*paths)

        return p.host_call(lambda: p.live.path_op(run))[0]

    return handler


SYSCALLS.update(
    {
        "unlink": _path_change("unlink", 1),
        "rmdir": _path_change("rmdir", 1),
        "mkdir": _path_change("mkdir", 1),
        "chmod": _path_change("chmod", 1),
        "rename": _path_change("rename", 2),
        "chdir": _path_change("chdir", 1),
    }
)


@syscall("ftruncate", "fsync", "fdatasync", "fchmod", "fchown", "flock", "fadvise64")
def sys_fd_status(p: LinuxPlatform, a: Args) -> int:
    return 0 if _file(p, a[0]) is not None else -EBADF


# -- memory -------------------------------------------------------------------------------------


@syscall("brk")
def sys_brk(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_brk(a[0])


@syscall("mmap")
def sys_mmap(p: LinuxPlatform, a: Args) -> int:
    addr, length, prot, flags, fd, offset = a
    f = None
    if not flags & MAP_ANONYMOUS:
        f = _file(p, fd)
        if f is None:
            return -EBADF
    result = p.mem.do_mmap(addr, length, prot, flags)
    if result >= 0 and f is not None:
        got, data = p.host_call(lambda: p.live.pread(f, length, offset))
        if got > 0:
            p.m.write(result, data)
    return result


@syscall("munmap")
def sys_munmap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_munmap(a[0], a[1])


@syscall("mprotect")
def sys_mprotect(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mprotect(a[0], a[1], a[2])


@syscall("mremap")
def sys_mremap(p: LinuxPlatform, a: Args) -> int:
    return p.mem.do_mremap(a[0], a[1], a[2], a[3])


@syscall("madvise", "msync", "mlock", "munlock", "set_robust_list", "sched_yield", "sync")
def sys_nothing(p: LinuxPlatform, a: Args) -> int:
    return 0


# -- process ------------------------------------------------------------------------------------


@syscall("arch_prctl")
def sys_arch_prctl(p: LinuxPlatform, a: Args) -> int:
    code, addr = a[0], a[1]
    regs = {0x1002: "fs_base", 0x1001: "gs_base"}
    if code in regs:
        p.m.set_reg(regs[code], addr)
        return 0
    if code in (0x1003, 0x1004):  # ARCH_GET_FS / ARCH_GET_GS
        p.m.write(addr, p.m.reg(regs[code - 1]).to_bytes(8, "little"))
        return 0
    return -EINVAL


@syscall("set_tid_address")
def sys_set_tid_address(p: LinuxPlatform, a: Args) -> int:
    p.tid_address = a[0]
    return p.pid


@syscall("getpid", "gettid", "getpgrp", "getsid", "getpgid")
def sys_getpid(p: LinuxPlatform, a: Args) -> int:
    return p.pid


@syscall("getppid")
def sys_getppid(p: LinuxPlatform, a: Args) -> int:
    return p.host_call(lambda: (os.getppid(), b""))[0]


@syscall("getuid", "geteuid", "getgid", "getegid")
def sys_getuid(p: LinuxPlatform, a: Args) -> int:
    names = p.arch.syscall_numbers
    host = {
        names["getuid"]: os.getuid,
        names["geteuid"]: os.geteuid,
        names["getgid"]: os.getgid,
        names["getegid"]: os.getegid,
    }[p.syscall_nr]
    return p.host_call(lambda: (host(), b""))[0]


@syscall("getgroups")
def sys_getgroups(p: LinuxPlatform, a: Args) -> int:
    return 0


@syscall("umask")
def sys_umask(p: LinuxPlatform, a: Args) -> int:
    old, p.umask = p.umask, a[0] & 0o777
    return old


@syscall("uname")
def sys_uname(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.uname())
    fields = data.decode(errors="replace").split("\0")
    fields[4] = p.arch.platform  # the guest's machine, not the host's
    p.m.write(a[0], pack_utsname((fields[0], fields[1], fields[2], fields[3], fields[4])))
    return result


@syscall("prlimit64", "getrlimit")
def sys_prlimit(p: LinuxPlatform, a: Args) -> int:
    prlimit = p.syscall_nr == p.arch.syscall_numbers.get("prlimit64")
    resource, old = (a[1], a[3]) if prlimit else (a[0], a[1])
    limits = {3: (8 << 20, (1 << 64) - 1), 7: (1024, 1024)}  # RLIMIT_STACK, RLIMIT_NOFILE
    if old:
        cur, mx = limits.get(resource, ((1 << 64) - 1, (1 << 64) - 1))
        p.m.write(old, struct.pack("<QQ", cur, mx))
    return 0


@syscall("setrlimit", "setpgid", "setsid", "prctl", "setuid", "setgid")
def sys_permitted(p: LinuxPlatform, a: Args) -> int:
    return 0


@syscall("sched_getaffinity")
def sys_sched_getaffinity(p: LinuxPlatform, a: Args) -> int:
    size = min(a[1], 128)
    if size < 8:
        return -EINVAL
    p.m.write(a[2], (1).to_bytes(8, "little").ljust(size, b"\0"))
    return size


@syscall("getcpu")
def sys_getcpu(p: LinuxPlatform, a: Args) -> int:
    for addr in a[:2]:
        if addr:
            p.m.write(addr, b"\0\0\0\0")
    return 0


@syscall("futex")
def sys_futex(p: LinuxPlatform, a: Args) -> int:
    op = a[1] & 0x7F
    if op == 0:  # FUTEX_WAIT on a single thread: nobody could ever wake it
        value = int.from_bytes(p.m.read(a[0], 4), "little")
        return -EAGAIN if value != a[2] & 0xFFFFFFFF else -EINVAL
    return 0


@syscall("exit", "exit_group")
def sys_exit(p: LinuxPlatform, a: Args) -> None:
    p.exit_from_syscall(a[0])
    return None


def _unsupported(p: LinuxPlatform, a: Args) -> int:
    name = p.arch.syscall_names.get(p.syscall_nr, str(p.syscall_nr))
    raise GuestError(
        f"the program called {name}(), which ttdbg does not support "
        "(it records single-process programs only)"
    )


for _name in ("fork", "vfork", "clone", "clone3", "execve", "execveat"):
    SYSCALLS[_name] = _unsupported


# -- signals ------------------------------------------------------------------------------------


@syscall("rt_sigaction")
def sys_rt_sigaction(p: LinuxPlatform, a: Args) -> int:
    sig, new, old = a[0], a[1], a[2]
    if not 1 <= sig <= NSIG or (new and sig in (SIGKILL, SIGSTOP)):
        return -EINVAL
    restorer = p.arch.sigaction_has_restorer
    if old:
        p.m.write(old, p.signals.action(sig).pack(restorer))
    if new:
        p.signals.actions[sig] = SigAction.unpack(p.m.read(new, 32 if restorer else 24), restorer)
    return 0


@syscall("rt_sigprocmask")
def sys_rt_sigprocmask(p: LinuxPlatform, a: Args) -> int:
    how, new, old = a[0], a[1], a[2]
    if old:
        p.m.write(old, p.signals.blocked.to_bytes(8, "little"))
    if new:
        mask = int.from_bytes(p.m.read(new, 8), "little") & ~((1 << 8) | (1 << 18))
        if how == 0:
            p.signals.blocked |= mask
        elif how == 1:
            p.signals.blocked &= ~mask
        elif how == 2:
            p.signals.blocked = mask
        else:
            return -EINVAL
    return 0


@syscall("rt_sigreturn")
def sys_rt_sigreturn(p: LinuxPlatform, a: Args) -> None:
    p.sigreturn()
    return None


@syscall("sigaltstack")
def sys_sigaltstack(p: LinuxPlatform, a: Args) -> int:
    new, old = a[0], a[1]
    if old:
        sp, flags, size = p.signals.altstack
        p.m.write(old, struct.pack("<QiiQ", sp, flags, 0, size))
    if new:
        sp, flags, _pad, size = struct.unpack("<QiiQ", p.m.read(new, 24))
        p.signals.altstack = (sp, flags, size)
    return 0


@syscall("kill", "tgkill", "tkill")
def sys_kill(p: LinuxPlatform, a: Args) -> int:
    sig = a[2] if p.syscall_nr == p.arch.syscall_numbers.get("tgkill") else a[1]
    target = a[1] if p.syscall_nr == p.arch.syscall_numbers.get("tgkill") else a[0]
    if target not in (p.pid, 0) and signed(target) != -1:
        return -EPERM
    if sig:
        p.kill_self(sig)
    return 0


@syscall("rt_sigpending")
def sys_rt_sigpending(p: LinuxPlatform, a: Args) -> int:
    p.m.write(a[0], p.signals.pending.to_bytes(8, "little"))
    return 0


# -- time and randomness ------------------------------------------------------------------------


def _clock_ns(p: LinuxPlatform, clock_id: int) -> int:
    result, data = p.host_call(lambda: p.live.clock(clock_id))
    return int.from_bytes(data, "little") if result == 0 else -1


@syscall("clock_gettime")
def sys_clock_gettime(p: LinuxPlatform, a: Args) -> int:
    ns = _clock_ns(p, a[0])
    if ns < 0:
        return -EINVAL
    p.m.write(a[1], pack_timespec(ns))
    return 0


@syscall("clock_getres")
def sys_clock_getres(p: LinuxPlatform, a: Args) -> int:
    if a[1]:
        p.m.write(a[1], pack_timespec(1))
    return 0


@syscall("gettimeofday")
def sys_gettimeofday(p: LinuxPlatform, a: Args) -> int:
    ns = _clock_ns(p, 0)
    if a[0]:
        p.m.write(a[0], pack_timeval(ns))
    return 0


@syscall("time")
def sys_time(p: LinuxPlatform, a: Args) -> int:
    seconds = _clock_ns(p, 0) // 1_000_000_000
    if a[0]:
        p.m.write(a[0], seconds.to_bytes(8, "little"))
    return seconds


def _sleep(p: LinuxPlatform, req: int) -> int:
    sec, nsec = struct.unpack("<qq", p.m.read(req, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return -EINVAL
    return p.host_call(lambda: p.live.sleep(sec * 1_000_000_000 + nsec))[0]


@syscall("nanosleep")
def sys_nanosleep(p: LinuxPlatform, a: Args) -> int:
    return _sleep(p, a[0])


@syscall("clock_nanosleep")
def sys_clock_nanosleep(p: LinuxPlatform, a: Args) -> int:
    if a[1] & 1:  # TIMER_ABSTIME: sleep until then
        target = int.from_bytes(p.m.read(a[2], 8), "little") * 1_000_000_000 + int.from_bytes(
            p.m.read(a[2] + 8, 8), "little"
        )
        remaining = max(0, target - max(_clock_ns(p, a[0]), 0))
        return p.host_call(lambda: p.live.sleep(remaining))[0]
    return _sleep(p, a[2])


@syscall("getrandom")
def sys_getrandom(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.getrandom(a[1]))
    if result > 0:
        p.m.write(a[0], data)
    return result


@syscall("getrusage")
def sys_getrusage(p: LinuxPlatform, a: Args) -> int:
    def host() -> tuple[int, bytes]:
        t = os.times()
        return 0, pack_rusage(int(t.user * 1e9), int(t.system * 1e9), 0)

    result, data = p.host_call(host)
    p.m.write(a[1], data)
    return result


@syscall("times")
def sys_times(p: LinuxPlatform, a: Args) -> int:
    def host() -> tuple[int, bytes]:
        t = os.times()
        ticks = [int(v * 100) for v in (t.user, t.system, t.children_user, t.children_system)]
        return int(t.elapsed * 100), struct.pack("<qqqq", *ticks)

    result, data = p.host_call(host)
    if a[0]:
        p.m.write(a[0], data)
    return result


@syscall("sysinfo")
def sys_sysinfo(p: LinuxPlatform, a: Args) -> int:
    def host() -> tuple[int, bytes]:
        with open("/proc/uptime") as f:
            uptime = int(float(f.read().split()[0]))
        return 0, struct.pack("<q", uptime).ljust(112, b"\0")

    result, data = p.host_call(host)
    p.m.write(a[0], data)
    return result
