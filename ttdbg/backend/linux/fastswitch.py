"""Thread switches in native code while recording (`_threadswitch.c`): arming it with a copy of
the thread table, and taking back what it did before Python looks at the threads again.

The native hook answers the futex calls of a plain state (FUTEX_WAIT/WAIT_BITSET without a
timeout, FUTEX_WAKE/WAKE_BITSET) and, when the caller blocks, hands the CPU to the next thread
as `Threads.settle` would: the same round-robin pick, SWITCH event and registers. Python arms
it after a futex call when no signal is pending anywhere, no wait has a host deadline or host
fds, no load reservation is held and the policy is round robin; it disarms (taking back the
table and the buffered events, in order) at every Python hook and every emulator return.
"""

from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING, Any

from unicorn.unicorn_py3.unicorn import uclib

from ttdbg.backend.nativelib import lib as _lib

from ..eventlog import EventKind
from .threads import State, Wait

if TYPE_CHECKING:
    from .platform import LinuxPlatform

MAX_THREADS, MAX_REGS, SLOT, MAX_EVENTS = 64, 96, 16, 4096
RUNNABLE, FUTEX, EXITED, OTHER_WAIT = 0, 1, 2, 3
CHANGED = 1
NO_RESERVATION = (1 << 64) - 1


class _Thread(ctypes.Structure):
    _fields_ = [
        ("tid", ctypes.c_int64),
        ("state", ctypes.c_uint32),
        ("bitset", ctypes.c_uint32),
        ("addr", ctypes.c_uint64),
        ("seq", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("icount", ctypes.c_uint64),
        ("frm", ctypes.c_int64),
        ("to", ctypes.c_int64),
        ("why", ctypes.c_uint64),
    ]


class _Sched(ctypes.Structure):
    _fields_ = [
        ("icount", ctypes.c_void_p),
        ("limit", ctypes.c_void_p),
        ("armed", ctypes.c_uint32),
        ("nthreads", ctypes.c_uint32),
        ("current", ctypes.c_uint32),
        ("trap", ctypes.c_uint32),
        ("futex_nr", ctypes.c_int64),
        ("insn_size", ctypes.c_uint64),
        ("quantum", ctypes.c_uint64),
        ("slice_end", ctypes.c_uint64),
        ("target", ctypes.c_uint64),
        ("wait_seq", ctypes.c_uint64),
        ("call_ids", ctypes.c_int32 * 8),
        ("result_id", ctypes.c_int32),
        ("result_slot", ctypes.c_uint32),
        ("pc_slot", ctypes.c_uint32),
        ("nregs", ctypes.c_uint32),
        ("syscall_intno", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("reg_ids", ctypes.c_int32 * MAX_REGS),
        ("reg_ptrs", ctypes.c_void_p * MAX_REGS),
        ("read_batch", ctypes.c_void_p),
        ("write_batch", ctypes.c_void_p),
        ("reg_write", ctypes.c_void_p),
        ("mem_read", ctypes.c_void_p),
        ("emu_stop", ctypes.c_void_p),
        ("context_save", ctypes.c_void_p),
        ("resv_ctx", ctypes.c_void_p),
        ("resv_field", ctypes.c_void_p),
        ("py_syscall", ctypes.c_void_p),
        ("py_intr", ctypes.c_void_p),
        ("ops", ctypes.c_uint64),
        ("switches", ctypes.c_uint64),
        ("nevents", ctypes.c_uint64),
        ("events", _Event * MAX_EVENTS),
        ("threads", _Thread * MAX_THREADS),
        ("slots", (ctypes.c_uint8 * (MAX_REGS * SLOT)) * MAX_THREADS),
    ]


_ROW = MAX_REGS * SLOT  # one thread's register slots
_EVENT = struct.Struct("<QqqQ")  # a _Event
assert _EVENT.size == ctypes.sizeof(_Event)

_lib.ts_sizeof.restype = ctypes.c_uint64
assert _lib.ts_sizeof() == ctypes.sizeof(_Sched), "native thread switch layout mismatch"


class _Hooks:
    syscall = _lib.ts_syscall_hook
    intr = _lib.ts_intr_hook


def _address(fn: Any) -> int:
    value = ctypes.cast(fn, ctypes.c_void_p).value
    assert value is not None
    return value


class FastSwitch:
    """The native futex and thread-switch path of one recording's platform."""

    def __init__(self, platform: LinuxPlatform) -> None:
        self.p = platform
        m = platform.m
        arch = platform.arch
        regs = arch.registers
        self.usable = (
            len(regs) <= MAX_REGS
            and all(r.cp is None for r in regs)
            and platform.threads.policy.chaos_seed is None
            and "futex" in arch.syscall_numbers
        )
        if not self.usable:
            return
        s = self._s = _Sched()
        s.icount = ctypes.addressof(m.counter.counts) + type(m.counter.counts).icount.offset
        s.limit = ctypes.addressof(m.counter.counts) + type(m.counter.counts).limit.offset
        s.trap = int(arch.syscall_interrupt is not None)
        s.syscall_intno = arch.syscall_interrupt if arch.syscall_interrupt is not None else 1 << 31
        s.futex_nr = arch.syscall_numbers["futex"]
        s.insn_size = arch.syscall_insn_size
        abi = arch.syscall_abi
        by_name = {r.name: r for r in regs}
        for i, name in enumerate((abi.number, *abi.args)):
            s.call_ids[i] = by_name[name].uc_id
        s.result_id = by_name[abi.result].uc_id
        names = [r.name for r in regs]
        s.result_slot = names.index(abi.result)
        s.pc_slot = names.index(arch.pc)
        s.nregs = len(regs)
        for i, r in enumerate(regs):
            s.reg_ids[i] = r.uc_id
        s.read_batch = _address(uclib.uc_reg_read_batch)
        s.write_batch = _address(uclib.uc_reg_write_batch)
        s.reg_write = _address(uclib.uc_reg_write)
        s.mem_read = _address(uclib.uc_mem_read)
        s.emu_stop = _address(uclib.uc_emu_stop)
        s.context_save = _address(uclib.uc_context_save)
        reservation = m.reservation
        if reservation._fields:  # a load reservation this CPU carries: checked at a hand-over
            s.resv_ctx = reservation._raw_ctx.value
            s.resv_field = ctypes.addressof(reservation._fields[0])
        self._size = len(regs) * SLOT
        self._slots_at = ctypes.addressof(s) + _Sched.slots.offset
        self._events_at = ctypes.addressof(s) + _Sched.events.offset
        # Per table index: the tid and the register bytes copied there last (bytes never
        # change, so the same object means the same registers).
        self._tids: list[int] = []
        self._copied: list[bytes | None] = [None] * MAX_THREADS
        m.after_emulation = self.take_back
        m.counter_reads.on_enter = self.take_back
        self._fallbacks = m.replace_syscall_hooks(
            _Hooks, ctypes.byref(s), self.take_back, self._after_python_hook
        )
        s.py_syscall = _address(self._fallbacks[0])
        s.py_intr = _address(self._fallbacks[1])

    def _after_python_hook(self, syscall: bool) -> None:
        """After a call Python answered: futex calls may go native again."""
        if syscall and self.p.syscall_nr == self._s.futex_nr:
            self.arm()

    # -- arming: the thread table copied into the native side ---------------------------------

    def arm(self) -> None:
        """Let the native hook answer futex calls, when the state is a plain one."""
        p = self.p
        threads, m, sig = p.threads, p.m, p.signals
        table = threads.table
        if (
            p.inputs.replaying
            or not threads.multi
            or len(table) > MAX_THREADS
            or threads.switch_due is not None
            or p.error is not None
            or p.end_of_log is not None
            or p.host_signal is not None
            or m.halted is not None
            or m._stop_requested
            or sig.pending
            or sig.saved_mask is not None
            or m.counter_reads.waiting
            or m.kernel_write_listener is not None
        ):
            return
        s = self._s
        current = threads.current
        tids = list(table)
        for i, tid in enumerate(tids):
            t = table[tid]
            ct = s.threads[i]
            ct.tid, ct.flags = tid, 0
            if t.state is State.RUNNABLE:
                ct.state = RUNNABLE
            elif t.state is State.EXITED:
                ct.state = EXITED
            else:
                w = t.wait
                if w is None or w.deadline is not None or w.kind == "host":
                    return  # a wait the host ends: the Python scheduler watches it
                ct.state = FUTEX if w.kind == "futex" else OTHER_WAIT
                ct.addr, ct.bitset, ct.seq = w.addr, w.bitset, w.seq
            if tid == current:
                s.current = i
                self._copied[i] = None
                continue
            if t.pending or t.saved_mask is not None:
                return  # a signal pending for another thread, or a mask to restore
            raw = t.regs
            if raw is not None and raw is not self._copied[i]:
                ctypes.memmove(self._slots_at + i * _ROW, raw, self._size)
                self._copied[i] = raw
        self._tids = tids
        s.nthreads = len(tids)
        s.wait_seq = threads.wait_seq
        s.quantum = threads.policy.quantum
        s.slice_end = threads.slice_end
        s.target = m.goal
        s.ops = s.switches = s.nevents = 0
        s.armed = 1

    # -- disarming: what the native side did, back into the thread table ---------------------

    def take_back(self) -> None:
        """Disarm, and bring the thread table and the event log up to date."""
        s = self._s
        if not s.armed:
            return
        s.armed = 0
        if not s.ops:
            return
        p = self.p
        threads = p.threads
        if s.nevents:
            # Straight from the raw buffer into the log's encoding: no ctypes structure and
            # no Event per switch.
            raw = ctypes.string_at(self._events_at, s.nevents * _EVENT.size)
            p.inputs.decided(EventKind.SWITCH, list(_EVENT.iter_unpack(raw)))
        table = threads.table
        for i, tid in enumerate(self._tids):
            ct = s.threads[i]
            if not ct.flags & CHANGED:
                continue
            t = table[tid]
            if ct.state == RUNNABLE:
                t.state, t.wait = State.RUNNABLE, None
            else:
                t.state = State.WAITING
                t.wait = Wait("futex", ct.seq, ct.addr, ct.bitset)
            if i == s.current:
                t.regs = self._copied[i] = None
            else:
                # Only the slots of this architecture's registers, not the whole row.
                raw = ctypes.string_at(self._slots_at + i * _ROW, self._size)
                t.regs = self._copied[i] = raw
        threads.wait_seq = s.wait_seq
        if s.switches:
            threads.switches += s.switches
            threads.slice_end = s.slice_end
            self._swap_signal_state(self._tids[s.current])

    def _swap_signal_state(self, tid: int) -> None:
        """The signal state of the thread now running takes the place of the one that ran
        when this was armed (threads in between held theirs unchanged)."""
        threads = self.p.threads
        old, new = threads.running, threads.table[tid]
        if old is new:
            return
        threads.swap_signal_state(old, new, keep_old=True)
        threads.current = tid
