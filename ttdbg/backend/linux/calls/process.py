"""The process: identity, limits, TLS, futex, exit, and the calls ttdbg refuses."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ...loader import STACK_LIMIT
from ..errnos import ECHILD
from ..fdtable import MAX_FDS
from ..platform import LinuxPlatform
from ..structs import pack_utsname
from .table import EAGAIN, EINVAL, ENOSYS, EPERM, ESRCH, Args, Handler, Kind, syscall


@syscall("arch_prctl", kind=Kind.EMULATED)
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


@syscall("getpid", kind=Kind.EMULATED)
def sys_getpid(p: LinuxPlatform, a: Args) -> int:
    return p.pid


def _host_value(p: LinuxPlatform, fn: Callable[[], int]) -> int:
    """A number the host answers (an id), or the errno its failure carries."""

    def run() -> tuple[int, bytes]:
        try:
            return fn(), b""
        except OSError as err:
            return -(err.errno or EINVAL), b""

    return p.host_call(run)[0]


def _host_status(p: LinuxPlatform, fn: Callable[[], None]) -> int:
    """A change to the host process (the guest's own, as the host sees it): 0 or the errno."""

    def run() -> int:
        fn()
        return 0

    return _host_value(p, run)


def _own(p: LinuxPlatform, pid: int) -> int:
    """The host pid a pid argument names: 0 and the guest's own pid are the recorder."""
    return 0 if pid in (0, p.pid) else pid


@syscall("getpgrp", kind=Kind.HOST)
def sys_getpgrp(p: LinuxPlatform, a: Args) -> int:
    return _host_value(p, os.getpgrp)


@syscall("getpgid", kind=Kind.HOST)
def sys_getpgid(p: LinuxPlatform, a: Args) -> int:
    return _host_value(p, lambda: os.getpgid(_own(p, a[0])))


@syscall("getsid", kind=Kind.HOST)
def sys_getsid(p: LinuxPlatform, a: Args) -> int:
    return _host_value(p, lambda: os.getsid(_own(p, a[0])))


@syscall("setpgid", kind=Kind.HOST)
def sys_setpgid(p: LinuxPlatform, a: Args) -> int:
    return _host_status(p, lambda: os.setpgid(_own(p, a[0]), a[1]))


@syscall("setsid", kind=Kind.HOST)
def sys_setsid(p: LinuxPlatform, a: Args) -> int:
    def run() -> int:
        os.setsid()
        return os.getpid()

    return _host_value(p, run)


# Numbers the host process answers, as the guest is that process to the rest of the system.
HOST_NUMBERS: dict[str, Callable[[], int]] = {
    "getppid": os.getppid,
    "getuid": os.getuid,
    "geteuid": os.geteuid,
    "getgid": os.getgid,
    "getegid": os.getegid,
}


def _host_number(fn: Callable[[], int]) -> Handler:
    return lambda p, a: _host_value(p, fn)


for _name, _fn in HOST_NUMBERS.items():
    syscall(_name, kind=Kind.HOST)(_host_number(_fn))


@syscall("setuid", kind=Kind.HOST)
def sys_setuid(p: LinuxPlatform, a: Args) -> int:
    return _host_status(p, lambda: os.setuid(a[0]))


@syscall("setgid", kind=Kind.HOST)
def sys_setgid(p: LinuxPlatform, a: Args) -> int:
    return _host_status(p, lambda: os.setgid(a[0]))


@syscall("getgroups", kind=Kind.HOST)
def sys_getgroups(p: LinuxPlatform, a: Args) -> int:
    size, addr = a[0], a[1]
    if size < 0:
        return -EINVAL

    def host() -> tuple[int, bytes]:
        groups = os.getgroups()
        return len(groups), struct.pack(f"<{len(groups)}I", *groups)

    count, data = p.host_call(host)
    if size == 0:
        return count
    if size < count:
        return -EINVAL
    p.m.write(addr, data)
    return count


@syscall("umask", kind=Kind.HOST)
def sys_umask(p: LinuxPlatform, a: Args) -> int:
    # The host's umask is the one the host applies to files the guest creates.
    old = p.host_call(lambda: (os.umask(a[0] & 0o777), b""))[0]
    p.umask = a[0] & 0o777
    return old


@syscall("uname", kind=Kind.HOST)
def sys_uname(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.uname())
    fields = data.decode(errors="replace").split("\0")
    fields[4] = p.arch.platform  # the guest's machine, not the host's
    p.m.write(a[0], pack_utsname((fields[0], fields[1], fields[2], fields[3], fields[4])))
    return result


# The limits ttdbg enforces itself (the stack it grows, the fd table's size) are its own; the
# others are those the guest inherits, the recorder's (read on the host, logged), which the
# host applies to what the recorder does for it. None can be changed: setting a different
# value fails visibly with EPERM.
RLIM_INFINITY = (1 << 64) - 1
RLIMIT_STACK, RLIMIT_NOFILE = 3, 7
RLIMITS = {RLIMIT_STACK: (STACK_LIMIT, RLIM_INFINITY), RLIMIT_NOFILE: (MAX_FDS, MAX_FDS)}
RLIMIT_NLIMITS = 16


def _current_limit(p: LinuxPlatform, resource: int) -> tuple[int, int]:
    own = RLIMITS.get(resource)
    if own is not None:
        return own
    result, data = p.host_call(lambda: p.live.rlimit(resource))
    if result != 0 or len(data) != 16:
        return (RLIM_INFINITY, RLIM_INFINITY)
    soft, hard = struct.unpack("<QQ", data)
    return soft, hard


def _rlimit(p: LinuxPlatform, resource: int, new: int, old: int) -> int:
    if not 0 <= resource < RLIMIT_NLIMITS:
        return -EINVAL
    current = _current_limit(p, resource)
    if new and struct.unpack("<QQ", p.m.read(new, 16)) != current:
        return -EPERM
    if old:
        p.m.write(old, struct.pack("<QQ", *current))
    return 0


@syscall("getrlimit", kind=Kind.HOST)
def sys_getrlimit(p: LinuxPlatform, a: Args) -> int:
    return _rlimit(p, a[0], 0, a[1])


@syscall("setrlimit", kind=Kind.HOST)
def sys_setrlimit(p: LinuxPlatform, a: Args) -> int:
    return _rlimit(p, a[0], a[1], 0)


@syscall("prlimit64", kind=Kind.HOST)
def sys_prlimit(p: LinuxPlatform, a: Args) -> int:
    if a[0] not in (0, p.pid):
        return -EPERM
    return _rlimit(p, a[1], a[2], a[3])


PR_SET_NAME, PR_GET_NAME = 15, 16


@syscall("prctl", kind=Kind.EMULATED)
def sys_prctl(p: LinuxPlatform, a: Args) -> int:
    """PR_SET_NAME/PR_GET_NAME name the calling thread (the main thread's is the comm)."""
    if a[0] == PR_SET_NAME:
        name = p.m.read_cstring(a[1], 15).decode(errors="surrogateescape")
        p.threads.rename(p.threads.current, name)
        return 0
    if a[0] == PR_GET_NAME:
        name = p.threads.running.name
        p.m.write(a[1], name.encode(errors="surrogateescape").ljust(16, b"\0"))
        return 0
    return -EINVAL


PRIO_PROCESS, PRIO_USER = 0, 2


@syscall("getpriority", kind=Kind.HOST)
def sys_getpriority(p: LinuxPlatform, a: Args) -> int:
    if not PRIO_PROCESS <= a[0] <= PRIO_USER:
        return -EINVAL
    who = _own(p, a[1]) if a[0] == PRIO_PROCESS else a[1]
    return p.host_call(lambda: p.live.priority(a[0], who, None))[0]


# Like kill, setpriority reaches only the guest's own process.
@syscall("setpriority", kind=Kind.HOST)
def sys_setpriority(p: LinuxPlatform, a: Args) -> int:
    if not PRIO_PROCESS <= a[0] <= PRIO_USER:
        return -EINVAL
    if a[0] != PRIO_PROCESS or a[1] not in (0, p.pid):
        return -EPERM
    return p.host_call(lambda: p.live.priority(PRIO_PROCESS, 0, a[2]))[0]


@syscall("sched_getscheduler", kind=Kind.HOST)
def sys_sched_getscheduler(p: LinuxPlatform, a: Args) -> int:
    if a[0] < 0:
        return -EINVAL
    return p.host_call(lambda: p.live.scheduler(_own(p, a[0])))[0]


@syscall("sched_getparam", kind=Kind.HOST)
def sys_sched_getparam(p: LinuxPlatform, a: Args) -> int:
    if a[0] < 0 or not a[1]:
        return -EINVAL
    result, data = p.host_call(lambda: p.live.scheduler(_own(p, a[0])))
    if result < 0:
        return result
    p.m.write(a[1], data)
    return 0


# Linux's static priority range per policy: SCHED_OTHER, FIFO, RR, BATCH, IDLE, DEADLINE.
PRIORITY_RANGES = {0: (0, 0), 1: (1, 99), 2: (1, 99), 3: (0, 0), 5: (0, 0), 6: (0, 0)}


@syscall("sched_get_priority_max", "sched_get_priority_min", kind=Kind.EMULATED)
def sys_sched_priority_range(p: LinuxPlatform, a: Args) -> int:
    limits = PRIORITY_RANGES.get(a[0])
    if limits is None:
        return -EINVAL
    is_max = p.syscall_nr == p.arch.syscall_numbers.get("sched_get_priority_max")
    return limits[1] if is_max else limits[0]


# The guest runs on one CPU, CPU 0: sched_getaffinity, getcpu, sysinfo's and /sys's CPU lists
# all say so, whatever the host has.
CPU_COUNT = 1


@syscall("sched_getaffinity", kind=Kind.EMULATED)
def sys_sched_getaffinity(p: LinuxPlatform, a: Args) -> int:
    size = min(a[1], 128)
    if a[0] not in (0, p.pid):
        return -ESRCH
    if size < 8 or size % 8:
        return -EINVAL
    p.m.write(a[2], (1).to_bytes(8, "little"))  # Linux copies one long per 64 CPUs
    return 8


@syscall("sched_setaffinity", kind=Kind.EMULATED)
def sys_sched_setaffinity(p: LinuxPlatform, a: Args) -> int:
    if a[0] not in (0, p.pid):
        return -ESRCH
    mask = p.m.read(a[2], min(a[1], 128))
    return 0 if mask and mask[0] & 1 else -EINVAL


@syscall("getcpu", kind=Kind.EMULATED)
def sys_getcpu(p: LinuxPlatform, a: Args) -> int:
    for addr in a[:2]:
        if addr:
            p.m.write(addr, b"\0\0\0\0")
    return 0


FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 3, 4
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_CMD_MASK = 0x7F  # without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME


@syscall("futex", kind=Kind.EMULATED)
def sys_futex(p: LinuxPlatform, a: Args) -> int:
    """One thread: nobody else can wake a waiter or be woken."""
    op = a[1] & FUTEX_CMD_MASK
    if op in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        value = int.from_bytes(p.m.read(a[0], 4), "little")
        # Equal: Linux would sleep until the timeout or forever; the sleep is not emulated.
        return -EAGAIN if value != a[2] else -EINVAL
    if op in (FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_REQUEUE):
        return 0  # the number of waiters woken or requeued: none
    if op == FUTEX_CMP_REQUEUE:
        value = int.from_bytes(p.m.read(a[0], 4), "little")
        return 0 if value == a[5] else -EAGAIN
    return -ENOSYS


@syscall("exit", "exit_group", kind=Kind.EMULATED)
def sys_exit(p: LinuxPlatform, a: Args) -> None:
    p.exit_from_syscall(a[0])
    return None


@syscall("wait4", kind=Kind.EMULATED)
def sys_wait4(p: LinuxPlatform, a: Args) -> int:
    return -ECHILD  # the guest never has a child: fork and clone are refused
