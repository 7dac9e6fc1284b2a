"""Threads: clone/clone3, futex, thread ids and exit, yielding, signals aimed at one thread."""

from __future__ import annotations

import os
import struct
import time

import unicorn

from ttdbg.errors import GuestError

from ..platform import LinuxPlatform
from ..signals import SI_TKILL
from ..threads import FUTEX_BITSET_MATCH_ANY, State, Why
from .table import EACCES, EAGAIN, EFAULT, EINVAL, ENOENT, ENOSYS, Args, Kind, syscall

ESRCH = 3

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_THREAD, CLONE_SYSVSEM, CLONE_SETTLS = 0x10000, 0x40000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED = 0x100000, 0x200000, 0x400000
CLONE_UNTRACED, CLONE_CHILD_SETTID = 0x800000, 0x01000000
THREAD_FLAGS = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD
ALLOWED_FLAGS = (
    THREAD_FLAGS | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID
)  # fmt: skip
CLONE_ARGS = struct.Struct("<11Q")  # struct clone_args, version 2 (88 bytes)


def refuse_process(p: LinuxPlatform) -> None:
    name = p.arch.syscall_names.get(p.syscall_nr, str(p.syscall_nr))
    raise GuestError(
        f"the program called {name}() to start a new process, which ttdbg does not support "
        "(it records one process; threads are supported)"
    )


def _spawn(
    p: LinuxPlatform, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int
) -> int:
    """Start a thread as clone(CLONE_VM | CLONE_THREAD | ...) does; returns its tid."""
    if flags & THREAD_FLAGS != THREAD_FLAGS:
        refuse_process(p)
    if flags & ~(ALLOWED_FLAGS | 0xFF) or flags & 0xFF:
        return -EINVAL  # with CLONE_THREAD Linux takes no exit signal and no namespaces
    regs = p.m.register_file.read()
    regs[p.arch.syscall_abi.result] = 0
    regs[p.arch.pc] = p.return_pc()
    if stack:
        regs[p.arch.sp] = stack
    if flags & CLONE_SETTLS:
        regs[p.arch.tls_register] = tls
    t = p.threads.create(regs, child_tid if flags & CLONE_CHILD_CLEARTID else 0)
    tid = t.tid.to_bytes(4, "little")
    if flags & CLONE_PARENT_SETTID:
        p.m.write(parent_tid, tid)
    if flags & CLONE_CHILD_SETTID:
        p.m.write(child_tid, tid)
    return t.tid


@syscall("clone", kind=Kind.EMULATED)
def sys_clone(p: LinuxPlatform, a: Args) -> int:
    arch = p.arch
    return _spawn(p, a[0], a[1], a[2], a[arch.clone_ctid_arg], a[arch.clone_tls_arg])


@syscall("clone3", kind=Kind.EMULATED)
def sys_clone3(p: LinuxPlatform, a: Args) -> int:
    size = a[1]
    if size < 64 or size > 4096:
        return -EINVAL
    raw = p.m.read(a[0], min(size, CLONE_ARGS.size)).ljust(CLONE_ARGS.size, b"\0")
    flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, n, _cg = (
        CLONE_ARGS.unpack(raw)
    )
    if flags & THREAD_FLAGS != THREAD_FLAGS:
        refuse_process(p)
    if exit_signal or set_tid or n or (stack == 0) != (stack_size == 0):
        return -EINVAL
    return _spawn(p, flags, stack + stack_size, parent_tid, child_tid, tls)


S_IFMT, S_IFREG, STATX_MODE_AT = 0o170000, 0o100000, 28


def _exec_refusal(p: LinuxPlatform, path: str) -> int:
    """The errno execve(path) fails with on Linux before it replaces the program (a missing
    or non-executable file, a directory), or 0 when it would go ahead."""
    if not path:
        return -ENOENT
    result = p.host_call(lambda: p.live.access(path, os.X_OK, None, True, True))[0]
    if result < 0:
        return result
    result, data = p.host_call(lambda: p.live.stat(path, True, True))
    if result < 0:
        return result
    mode = struct.unpack_from("<H", data, STATX_MODE_AT)[0]
    return 0 if mode & S_IFMT == S_IFREG else -EACCES


# For the calls that start another program: which argument names it.
PROGRAM_ARG = {"execve": 0, "execveat": 1}


@syscall("fork", "vfork", "execve", "execveat", kind=Kind.REFUSED)
def sys_new_process(p: LinuxPlatform, a: Args) -> int:
    name = p.arch.syscall_names.get(p.syscall_nr, str(p.syscall_nr))
    what = ""
    if name in PROGRAM_ARG:
        try:
            path = os.fsdecode(p.m.read_cstring(a[PROGRAM_ARG[name]], 4096))
        except unicorn.UcError:
            return -EFAULT
        if name == "execve":
            # An execve Linux would refuse fails as there (env and execvp go on along PATH);
            # only one that would start a program ends the recording.
            refused = _exec_refusal(p, path)
            if refused:
                return refused
        what = repr(path)
    raise GuestError(
        f"the program called {name}({what}), which ttdbg does not support "
        "(it records single-process programs only)"
    )


@syscall("gettid", kind=Kind.EMULATED)
def sys_gettid(p: LinuxPlatform, a: Args) -> int:
    return p.threads.current


@syscall("set_tid_address", kind=Kind.EMULATED)
def sys_set_tid_address(p: LinuxPlatform, a: Args) -> int:
    p.threads.running.clear_tid = a[0]
    return p.threads.current


@syscall("set_robust_list", kind=Kind.EMULATED)
def sys_set_robust_list(p: LinuxPlatform, a: Args) -> int:
    if a[1] != 24:  # sizeof(struct robust_list_head)
        return -EINVAL
    p.threads.running.robust_list = a[0]
    return 0


@syscall("get_robust_list", kind=Kind.EMULATED)
def sys_get_robust_list(p: LinuxPlatform, a: Args) -> int:
    t = p.threads.table.get(a[0] or p.threads.current)
    if t is None or t.state == State.EXITED:
        return -ESRCH
    p.m.write(a[1], t.robust_list.to_bytes(8, "little"))
    p.m.write(a[2], (24).to_bytes(8, "little"))
    return 0


@syscall("exit", kind=Kind.EMULATED)
def sys_exit(p: LinuxPlatform, a: Args) -> None:
    """One thread ends; the last one ends the process with its status."""
    if len(p.threads.live()) > 1:
        p.threads.exit_running()
        return None
    p.exit_from_syscall(a[0])
    return None


@syscall("exit_group", kind=Kind.EMULATED)
def sys_exit_group(p: LinuxPlatform, a: Args) -> None:
    p.exit_from_syscall(a[0])
    return None


@syscall("sched_yield", kind=Kind.NOOP, why="a switch point when other threads can run")
def sys_sched_yield(p: LinuxPlatform, a: Args) -> int:
    if p.threads.multi:
        p.threads.switch_due = Why.YIELD
    return 0


# -- futex -----------------------------------------------------------------------------------

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PI_OPS = frozenset({6, 7, 8, 11, 12, 13})  # LOCK_PI, UNLOCK_PI, ..., LOCK_PI2
FUTEX_CLOCK_REALTIME = 256


def _word(p: LinuxPlatform, addr: int) -> int:
    return p.m.read_u32(addr)


def _timespec_ns(p: LinuxPlatform, addr: int) -> int | None:
    sec, nsec = struct.unpack("<qq", p.m.read(addr, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return None
    return sec * 1_000_000_000 + nsec


def _wait(
    p: LinuxPlatform, addr: int, expected: int, bitset: int, timeout: int, absolute: bool,
    realtime: bool,
) -> int | None:  # fmt: skip
    if bitset == 0:
        return -EINVAL
    if _word(p, addr) != expected & 0xFFFFFFFF:
        return -EAGAIN
    deadline = None
    if timeout:
        ns = _timespec_ns(p, timeout)
        if ns is None:
            return -EINVAL
        if not p.inputs.replaying:  # the host clock only decides when recording
            now = time.monotonic_ns()
            if not absolute:
                deadline = now + ns
            elif realtime:
                deadline = now + ns - time.time_ns()
            else:
                deadline = ns
    p.threads.park(p.threads.new_wait("futex", addr=addr, bitset=bitset, deadline=deadline))
    return None


def _wake_op(p: LinuxPlatform, a: Args) -> int:
    addr, addr2, encoded = a[0], a[4], a[5]
    count, count2 = max(_int32(a[2]), 1), max(_int32(a[3]), 1)  # each wakes at least one
    op, cmp = (encoded >> 28) & 0xF, (encoded >> 24) & 0xF
    oparg = _sign12((encoded >> 12) & 0xFFF)
    cmparg = _sign12(encoded & 0xFFF)
    if op & 8:
        oparg = 1 << (oparg & 31)
    old = _word(p, addr2)
    ops = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg, 4: old ^ oparg}
    if op & 7 not in ops or cmp > 5:
        return -ENOSYS
    p.m.write(addr2, (ops[op & 7] & 0xFFFFFFFF).to_bytes(4, "little"))
    old_signed = old - (1 << 32) if old >= 1 << 31 else old
    compare = (
        old_signed == cmparg, old_signed != cmparg, old_signed < cmparg,
        old_signed <= cmparg, old_signed > cmparg, old_signed >= cmparg,
    )[cmp]  # fmt: skip
    woken = p.threads.futex_wake(addr, count)
    if compare:
        woken += p.threads.futex_wake(addr2, count2)
    return woken


def signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _sign12(v: int) -> int:
    return v - 0x1000 if v & 0x800 else v


@syscall("futex", kind=Kind.EMULATED)
def sys_futex(p: LinuxPlatform, a: Args) -> int | None:
    """Every thread shares the one address space, so private and shared futexes are both
    keyed by address. PI futexes are not implemented: ENOSYS, as a kernel without them."""
    addr, full_op, val = a[0], a[1], a[2] & 0xFFFFFFFF
    op = full_op & 0x7F
    if op in FUTEX_PI_OPS:
        return -ENOSYS
    if addr % 4:
        return -EINVAL
    count = val if 0 < val < 1 << 31 else 1  # the kernel wakes at least one
    realtime = bool(full_op & FUTEX_CLOCK_REALTIME)
    if op == FUTEX_WAIT:
        return _wait(p, addr, val, FUTEX_BITSET_MATCH_ANY, a[3], False, False)
    if op == FUTEX_WAIT_BITSET:
        return _wait(p, addr, val, a[5] & 0xFFFFFFFF, a[3], True, realtime)
    if op == FUTEX_WAKE:
        return p.threads.futex_wake(addr, count)
    if op == FUTEX_WAKE_BITSET:
        if a[5] & 0xFFFFFFFF == 0:
            return -EINVAL
        return p.threads.futex_wake(addr, count, a[5] & 0xFFFFFFFF)
    if op in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if a[4] % 4:
            return -EINVAL
        wake, move = _int32(val), _int32(a[3])
        if wake < 0 or move < 0:
            return -EINVAL
        if op == FUTEX_CMP_REQUEUE and _word(p, addr) != a[5] & 0xFFFFFFFF:
            return -EAGAIN
        return p.threads.futex_requeue(addr, wake, move, a[4])
    if op == FUTEX_WAKE_OP:
        if a[4] % 4:
            return -EINVAL
        return _wake_op(p, a)
    return -ENOSYS


# -- sleeping, for a process with threads -------------------------------------------------------


def park_sleep(p: LinuxPlatform, ns: int, rem: int) -> None:
    """Park the running thread for `ns` nanoseconds (host time, decided when recording)."""
    deadline = None if p.inputs.replaying else time.monotonic_ns() + ns
    p.threads.park(p.threads.new_wait("sleep", rem=rem, deadline=deadline))


# -- signals aimed at one thread ----------------------------------------------------------------


def _signal_thread(p: LinuxPlatform, tid: int, sig: int) -> int:
    t = p.threads.table.get(tid)
    if t is None or t.state == State.EXITED:
        return -ESRCH
    if not 0 <= sig <= 64:
        return -EINVAL
    if sig == 0:
        return 0
    if tid == p.threads.current:
        p.kill_self(sig, SI_TKILL)
        return 0
    if p.signals.is_ignored(sig):
        return 0
    bit = 1 << (sig - 1)
    t.pending |= bit
    t.senders.setdefault(sig, (SI_TKILL, p.pid, p.uid))
    if not p.threads.mask_of(t) & bit:
        p.threads.interrupt(t, sig)
    return 0


@syscall("tgkill", kind=Kind.EMULATED)
def sys_tgkill(p: LinuxPlatform, a: Args) -> int:
    if signed(a[0]) <= 0 or signed(a[1]) <= 0:
        return -EINVAL
    if a[0] != p.pid:
        return -ESRCH
    return _signal_thread(p, a[1], a[2])


@syscall("tkill", kind=Kind.EMULATED)
def sys_tkill(p: LinuxPlatform, a: Args) -> int:
    if signed(a[0]) <= 0:
        return -EINVAL
    return _signal_thread(p, a[0], a[1])
