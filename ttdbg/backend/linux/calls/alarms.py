"""Interval timers and alarm, and the calls that wait for a signal: pause, rt_sigsuspend.

The timers are the recorder's own (it stands for the guest's process): their signals come
back to the recorder, which forwards them to the guest as signals from outside, logged with
the icount they arrive at. Replay never arms a timer; it delivers the logged signals.
"""

from __future__ import annotations

import struct

from ..errnos import EINTR
from ..platform import LinuxPlatform
from .table import EINVAL, Args, Kind, syscall

ITIMER_PROF = 2
ITIMERVAL_SIZE = 32
SIGSET_SIZE = 8


@syscall("setitimer", kind=Kind.HOST)
def sys_setitimer(p: LinuxPlatform, a: Args) -> int:
    which, new, old = a[0], a[1], a[2]
    if not 0 <= which <= ITIMER_PROF:
        return -EINVAL
    value = p.m.read(new, ITIMERVAL_SIZE) if new else bytes(ITIMERVAL_SIZE)
    result, data = p.host_call(lambda: p.live.itimer(which, value))
    if result == 0 and old:
        p.m.write(old, data)
    return result


@syscall("getitimer", kind=Kind.HOST)
def sys_getitimer(p: LinuxPlatform, a: Args) -> int:
    if not 0 <= a[0] <= ITIMER_PROF:
        return -EINVAL
    result, data = p.host_call(lambda: p.live.itimer(a[0], None))
    if result == 0:
        p.m.write(a[1], data)
    return result


@syscall("alarm", kind=Kind.HOST)
def sys_alarm(p: LinuxPlatform, a: Args) -> int:
    return p.host_call(lambda: p.live.alarm(a[0]))[0]


def wait_for_signal(p: LinuxPlatform) -> int:
    """Wait on the host until a signal the guest takes is pending; -EINTR then (the signal
    is delivered as the call returns). Signals it blocks or ignores do not end the wait."""
    while not p.signals.pending & ~p.signals.blocked:
        result, _ = p.host_call(lambda: p.live.wait_for_signal())
        if result != -EINTR:
            return result
        if not p.take_signal_during_call():
            break
    return -EINTR


def read_sigmask(p: LinuxPlatform, addr: int, size: int) -> int | None:
    """The sigset_t a call waits under, or None when its size is not the kernel's."""
    if size != SIGSET_SIZE:
        return None
    return int.from_bytes(p.m.read(addr, SIGSET_SIZE), "little")


def wait_under_mask(p: LinuxPlatform, addr: int, size: int) -> bool:
    """Wait under the sigmask argument of a call (none given: the current mask); False when
    its size is not the kernel's."""
    if not addr:
        return True
    mask = read_sigmask(p, addr, size)
    if mask is None:
        return False
    p.signals.wait_with_mask(mask)
    return True


MAX_TIMEOUT_MS = 0x7FFFFFFF


def timeout_ms(p: LinuxPlatform, addr: int) -> int | None:
    """A struct timespec timeout in whole milliseconds, never shorter than asked (NULL: -1,
    wait for ever); None when it is not a valid timespec."""
    if not addr:
        return -1
    sec, nsec = struct.unpack("<qq", p.m.read(addr, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return None
    return min(sec * 1000 + (nsec + 999_999) // 1_000_000, MAX_TIMEOUT_MS)


@syscall("pause", kind=Kind.HOST)
def sys_pause(p: LinuxPlatform, a: Args) -> int:
    return wait_for_signal(p)


@syscall("rt_sigsuspend", kind=Kind.HOST)
def sys_rt_sigsuspend(p: LinuxPlatform, a: Args) -> int:
    mask = read_sigmask(p, a[0], a[1])
    if mask is None:
        return -EINVAL
    p.signals.wait_with_mask(mask)
    return wait_for_signal(p)
