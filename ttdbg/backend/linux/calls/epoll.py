"""epoll: instances, interest lists and waits, performed on host epoll instances.

While recording, each guest epoll fd is a host epoll fd watching the host files behind the
guest's fds; the ready events come back in the guest's struct layout and are logged, so
replay writes the same events without any host file. Closing a guest fd closes its host file
when no other descriptor shares it, which drops it from every interest list, as on Linux.
"""

from __future__ import annotations

import struct

from ..host import HostWatch, Outcome
from ..platform import LinuxPlatform
from ..threads import ERESTARTSYS
from . import procfs
from .alarms import timeout_ms, wait_under_mask
from .files import open_host_object
from .io import finish_parkable
from .table import EBADF, EINVAL, EPERM, O_CLOEXEC, O_RDWR, Args, Kind, open_file, syscall

EPOLL_CTL_ADD, EPOLL_CTL_MOD = 1, 3
# The most events one wait returns: Linux's INT_MAX / sizeof(struct epoll_event), and what
# one call may write here.
EP_MAX_EVENTS = 1 << 16


def _create(p: LinuxPlatform, cloexec: bool) -> int:
    flags = O_RDWR | (O_CLOEXEC if cloexec else 0)
    return open_host_object(
        p, "epoll", "anon_inode:[eventpoll]", flags, lambda: p.live.epoll_create()
    )


@syscall("epoll_create", kind=Kind.HOST)
def sys_epoll_create(p: LinuxPlatform, a: Args) -> int:
    return -EINVAL if a[0] <= 0 else _create(p, False)


@syscall("epoll_create1", kind=Kind.HOST)
def sys_epoll_create1(p: LinuxPlatform, a: Args) -> int:
    if a[0] & ~O_CLOEXEC:
        return -EINVAL
    return _create(p, bool(a[0] & O_CLOEXEC))


def _event_layout(p: LinuxPlatform) -> struct.Struct:
    # x86-64's struct epoll_event is packed; the others align the 64-bit data field.
    return struct.Struct("<IQ" if p.arch.name == "x86_64" else "<I4xQ")


@syscall("epoll_ctl", kind=Kind.HOST)
def sys_epoll_ctl(p: LinuxPlatform, a: Args) -> int:
    epfd, op, fd, event = a[0], a[1], a[2], a[3]
    ep, target = open_file(p, epfd), open_file(p, fd)
    if ep is None or target is None:
        return -EBADF
    if ep.kind in procfs.KINDS:
        return -EINVAL  # not an epoll instance
    if target.kind in procfs.KINDS:
        return -EPERM  # files without a poll method, as Linux answers for regular files
    # The host kernel checks the rest (an epoll fd, the op, a file that can be polled, loops).
    events, data = 0, 0
    if op in (EPOLL_CTL_ADD, EPOLL_CTL_MOD):
        layout = _event_layout(p)
        events, data = layout.unpack(p.m.read(event, layout.size))
    return p.host_call(lambda: p.live.epoll_ctl(ep, op, target, events, data))[0]


def _wait(p: LinuxPlatform, a: Args, timeout_ms: int) -> int | None:
    epfd, events, maxevents = a[0], a[1], a[2]
    ep = open_file(p, epfd)
    if ep is None:
        return -EBADF
    if ep.kind in procfs.KINDS or not 0 < maxevents <= EP_MAX_EVENTS:
        return -EINVAL
    packed = p.arch.name == "x86_64"
    threads = p.threads
    parked: list[HostWatch] = []

    def wait() -> Outcome:
        # With several threads, a wait that would block parks its thread, not the recorder
        # (an epoll fd is readable when it has events to report).
        watch, timeout = threads.host_wait_plan(lambda: p.live.would_block_reading(ep), timeout_ms)
        if watch is not None:
            parked.append(watch)
            return -ERESTARTSYS, b""
        return p.live.epoll_wait(ep, maxevents, timeout, packed)

    result, data = p.host_call(wait)
    return finish_parkable(p, result, data, parked, events)


@syscall("epoll_wait", kind=Kind.HOST)
def sys_epoll_wait(p: LinuxPlatform, a: Args) -> int | None:
    return _wait(p, a, max(a[3], -1))


@syscall("epoll_pwait", kind=Kind.HOST)
def sys_epoll_pwait(p: LinuxPlatform, a: Args) -> int | None:
    if not wait_under_mask(p, a[4], a[5]):
        return -EINVAL
    return _wait(p, a, max(a[3], -1))


@syscall("epoll_pwait2", kind=Kind.HOST)
def sys_epoll_pwait2(p: LinuxPlatform, a: Args) -> int | None:
    timeout = timeout_ms(p, a[3])
    if timeout is None or not wait_under_mask(p, a[4], a[5]):
        return -EINVAL
    return _wait(p, a, timeout)
