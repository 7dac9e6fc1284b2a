"""Clocks, sleeping, randomness and resource usage."""

from __future__ import annotations

import os
import struct

from ..errnos import EINTR
from ..platform import LinuxPlatform
from ..structs import pack_rusage, pack_timespec, pack_timeval
from .table import EINVAL, Args, Kind, fd_arg, syscall
from .threads import park_sleep


def _clock_ns(p: LinuxPlatform, clock_id: int) -> int:
    result, data = p.host_call(lambda: p.live.clock(clock_id))
    return int.from_bytes(data, "little") if result == 0 else -1


@syscall("clock_gettime", kind=Kind.HOST)
def sys_clock_gettime(p: LinuxPlatform, a: Args) -> int:
    ns = _clock_ns(p, a[0])
    if ns < 0:
        return -EINVAL
    p.m.write(a[1], pack_timespec(ns))
    return 0


@syscall("clock_getres", kind=Kind.HOST)
def sys_clock_getres(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.clock_res(a[0]))
    if result == 0 and a[1]:
        p.m.write(a[1], data)
    return result


@syscall("gettimeofday", kind=Kind.HOST)
def sys_gettimeofday(p: LinuxPlatform, a: Args) -> int:
    ns = _clock_ns(p, 0)
    if a[0]:
        p.m.write(a[0], pack_timeval(ns))
    return 0


@syscall("time", kind=Kind.HOST)
def sys_time(p: LinuxPlatform, a: Args) -> int:
    seconds = _clock_ns(p, 0) // 1_000_000_000
    if a[0]:
        p.m.write(a[0], seconds.to_bytes(8, "little"))
    return seconds


def _sleep(p: LinuxPlatform, req: int, rem: int) -> int | None:
    sec, nsec = struct.unpack("<qq", p.m.read(req, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return -EINVAL
    return _sleep_ns(p, sec * 1_000_000_000 + nsec, rem)


def _sleep_ns(p: LinuxPlatform, ns: int, rem: int) -> int | None:
    """Sleep on the host; a process with threads parks the thread instead, so the others run."""
    if p.threads.multi:
        park_sleep(p, ns, rem)
        return None
    result, left = p.host_call(lambda: p.live.sleep(ns))
    if result == -EINTR and rem and len(left) == 8:  # Linux writes back the time not slept
        p.m.write(rem, pack_timespec(int.from_bytes(left, "little")))
    return result


@syscall("nanosleep", kind=Kind.HOST)
def sys_nanosleep(p: LinuxPlatform, a: Args) -> int | None:
    return _sleep(p, a[0], a[1])


@syscall("clock_nanosleep", kind=Kind.HOST)
def sys_clock_nanosleep(p: LinuxPlatform, a: Args) -> int | None:
    if a[1] & 1:  # TIMER_ABSTIME: sleep until then
        target = int.from_bytes(p.m.read(a[2], 8), "little") * 1_000_000_000 + int.from_bytes(
            p.m.read(a[2] + 8, 8), "little"
        )
        remaining = max(0, target - max(_clock_ns(p, a[0]), 0))
        return _sleep_ns(p, remaining, 0)
    return _sleep(p, a[2], a[3])


@syscall("getrandom", kind=Kind.HOST)
def sys_getrandom(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.getrandom(a[1]))
    if result > 0:
        p.m.write(a[0], data)
    return result


RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1
RU_MAXRSS = 32  # where struct rusage's ru_maxrss lies, after the two timevals


@syscall("getrusage", kind=Kind.HOST)
def sys_getrusage(p: LinuxPlatform, a: Args) -> int:
    """The recorder's CPU times (it runs the guest), the guest's peak resident size (every
    mapped page is resident here, as /proc/self/status's VmHWM says); the guest never has
    children, so theirs are all zero."""
    who = fd_arg(a[0])  # an int, as a descriptor is
    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD):
        return -EINVAL
    if who == RUSAGE_CHILDREN:
        p.m.write(a[1], pack_rusage(0, 0, 0))
        return 0

    def host() -> tuple[int, bytes]:
        t = os.times()
        return 0, pack_rusage(int(t.user * 1e9), int(t.system * 1e9), 0)

    result, data = p.host_call(host)
    peak = max(p.mem.peak_vm, p.mem.mapped_bytes()) // 1024  # VmHWM, every page resident
    p.m.write(a[1], data[:RU_MAXRSS] + peak.to_bytes(8, "little") + data[RU_MAXRSS + 8 :])
    return result


@syscall("times", kind=Kind.HOST)
def sys_times(p: LinuxPlatform, a: Args) -> int:
    def host() -> tuple[int, bytes]:
        t = os.times()
        ticks = [int(v * 100) for v in (t.user, t.system, t.children_user, t.children_system)]
        return int(t.elapsed * 100), struct.pack("<qqqq", *ticks)

    result, data = p.host_call(host)
    if a[0]:
        p.m.write(a[0], data)
    return result


@syscall("sysinfo", kind=Kind.HOST)
def sys_sysinfo(p: LinuxPlatform, a: Args) -> int:
    result, data = p.host_call(lambda: p.live.sysinfo())
    if result == 0:
        p.m.write(a[0], data)
    return result
