"""The process: identity, limits, TLS, futex, exit, and the calls ttdbg refuses."""

from __future__ import annotations

import os
import struct

from ..platform import LinuxPlatform
from ..structs import pack_utsname
from .table import EINVAL, Args, syscall


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


@syscall("getpid", "getpgrp", "getsid", "getpgid")
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


@syscall("setrlimit", "setpgid", "setsid", "setuid", "setgid")
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
