"""The guest's threads and the scheduler that runs them one at a time on the one CPU.

How threads stay deterministic:

- One thread runs at a time; ttdbg is the scheduler. The icount stays one timeline: it counts
  the instructions retired by all threads in schedule order, so position `p` is still "before
  the p-th instruction", whichever thread executes it.
- A switch happens only at a switch point: the running thread blocks (futex wait, sleep),
  exits, yields, or has used its quantum of instructions (the exact block counter stops the
  CPU there, so single-threaded programs run with no extra hook at all). A blocking call
  leaves its thread parked with the pc after the call; the result goes into its saved
  registers when something wakes it.
- Every switch is a SWITCH event: icount, (from tid, to tid, why), and as payload the waits
  that ended from outside at that moment (a timeout the host clock decided, a wait a signal
  interrupted). The recorder chooses (round robin, or seeded chaos) and logs; replay takes
  the logged switch at the same icount and checks it against the guest: the thread running
  must be the logged `from`, and a thread that blocked or exited must be switched away from
  right there. A mismatch is a divergence naming the icount and the threads.
- When every thread waits, the recorder blocks on the host until the earliest deadline or a
  signal from outside; never while a thread could run.
- The threads that are not running keep their registers here; snapshots hold them, every
  thread's signal mask and wait, and the futex wait order (`to_state`). Host deadlines and
  quanta are recording-only and never part of the state.
"""

from __future__ import annotations

import enum
import random
import select
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ttdbg.errors import DivergenceError

from ..eventlog import Event, EventKind
from .host import HostWatch

if TYPE_CHECKING:
    from ..machine import RegisterFile
    from .platform import LinuxPlatform

EINTR, EAGAIN, ETIMEDOUT = 4, 11, 110
# What a host call logs when it would block while another thread could run: the kernel's own
# "restart this call" code, which user space never sees. The caller parks and runs it again.
ERESTARTSYS = 512
# About a millisecond of the native program, as a Linux time slice is a few: each switch costs
# the recorder far more than the guest instructions around it (rr slices about as long).
DEFAULT_QUANTUM = 1_000_000
CHAOS_QUANTA = (100, 20_000)  # chaos mode draws each quantum from this range
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
_WAKE = struct.Struct("<Iqq")  # tid, syscall result, remaining ns (for nanosleep's rem)


class Why(enum.IntEnum):
    """Why the scheduler switched threads."""

    BLOCK = 1  # the running thread waits (futex, sleep)
    EXIT = 2  # the running thread ended
    YIELD = 3  # sched_yield
    QUANTUM = 4  # the running thread used its quantum
    WAKE = 5  # a wait ended from outside (timeout, signal) while the others waited


class State(enum.Enum):
    RUNNABLE = "runnable"
    WAITING = "waiting"
    EXITED = "exited"


@dataclass
class Wait:
    """What a parked thread waits for."""

    kind: str  # "futex" or "sleep"
    seq: int  # FIFO order among all waits, which futex wakes follow
    addr: int = 0
    bitset: int = FUTEX_BITSET_MATCH_ANY
    rem: int = 0  # nanosleep's remaining-time pointer
    deadline: int | None = None  # host monotonic ns; recording only, never in a snapshot
    host_fds: HostWatch = ()  # "host": the host fds whose readiness ends it; recording only
    # "host": the mask the call waits under (ppoll, pselect6, epoll_pwait), or None: its
    # thread's own. A signal for the thread is checked against it, as Linux does.
    mask: int | None = None


@dataclass
class Thread:
    """One guest thread; `regs` holds its registers (raw RegisterFile slots) while another
    thread runs."""

    tid: int
    regs: bytes | None = None
    state: State = State.RUNNABLE
    wait: Wait | None = None
    clear_tid: int = 0
    robust_list: int = 0
    sigmask: int = 0
    pending: int = 0
    altstack: tuple[int, int, int] = (0, 2, 0)
    senders: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    name: str = ""
    # The mask to restore once a signal interrupted a wait under a mask of its own (its
    # handler's frame saves this one), as SignalState.saved_mask for the running thread.
    saved_mask: int | None = None
    # Recording only: when the host call this thread retries times out (host monotonic ns).
    host_deadline: int | None = None

    def to_state(self, rf: RegisterFile) -> dict[str, Any]:
        wait = self.wait
        return {
            "tid": self.tid,
            "regs": None if self.regs is None else rf.decode(self.regs),
            "state": self.state.value,
            "wait": None
            if wait is None
            else [wait.kind, wait.seq, wait.addr, wait.bitset, wait.rem, wait.mask],
            "clear_tid": self.clear_tid,
            "robust_list": self.robust_list,
            "sigmask": self.sigmask,
            "pending": self.pending,
            "altstack": list(self.altstack),
            "senders": {str(sig): list(v) for sig, v in self.senders.items()},
            "name": self.name,
            "saved_mask": self.saved_mask,
        }

    @classmethod
    def from_state(cls, s: dict[str, Any], rf: RegisterFile) -> Thread:
        w = s["wait"]
        return cls(
            tid=s["tid"],
            regs=None if s["regs"] is None else rf.encode(s["regs"]),
            state=State(s["state"]),
            wait=None
            if w is None
            else Wait(w[0], w[1], w[2], w[3], w[4], mask=w[5] if len(w) > 5 else None),
            clear_tid=s["clear_tid"],
            robust_list=s["robust_list"],
            sigmask=s["sigmask"],
            pending=s["pending"],
            altstack=(s["altstack"][0], s["altstack"][1], s["altstack"][2]),
            senders={int(sig): (v[0], v[1], v[2]) for sig, v in s["senders"].items()},
            name=s["name"],
            saved_mask=s.get("saved_mask"),
        )


@dataclass
class SchedulePolicy:
    """How the recorder picks: a fixed quantum and round robin, or seeded chaos."""

    quantum: int = DEFAULT_QUANTUM
    chaos_seed: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.chaos_seed is not None:
            self.rng = random.Random(self.chaos_seed)

    def next_quantum(self) -> int:
        if self.chaos_seed is None:
            return self.quantum
        return self.rng.randint(*CHAOS_QUANTA)

    def pick(self, candidates: list[int], current: int) -> int:
        """The next thread among the runnable `candidates` (tid order)."""
        if self.chaos_seed is not None:
            return self.rng.choice(candidates)
        later = [t for t in candidates if t > current]
        return later[0] if later else candidates[0]


class Threads:
    """The thread table, futex waits and the scheduler of one guest process."""

    def __init__(self, platform: LinuxPlatform, policy: SchedulePolicy | None = None) -> None:
        self.p = platform
        self.policy = policy or SchedulePolicy()
        self.table: dict[int, Thread] = {}
        self.current = 0
        self.next_tid = 0
        self.wait_seq = 0
        self.switch_due: Why | None = None  # the running thread cannot or will not go on
        self.slice_end = self.policy.next_quantum()
        # Recording: the icount settled last without a switch. No quantum may end early there
        # afterwards: a snapshot may have been taken in between, which replay checks before
        # a switch logged at its icount would come (it takes that switch first). Kept here,
        # not in Machine.run where early ends are taken: the machine cannot tell a settle
        # that switched from one that did not, and after a switch an early end at the same
        # icount stays allowed (quanta shorter than a block: records would change).
        self.settled_at = -1
        self.switches = 0
        # Told the tid of the thread about to run at every switch to another thread, before
        # its registers are loaded (the index recorder pairs calls and returns per thread).
        self.switch_listeners: list[Callable[[int], None]] = []

    def start(self, tid: int, name: str = "") -> None:
        """The main thread, whose tid is the process id; `name` is its comm."""
        self.table = {tid: Thread(tid, name=name)}
        self.current = tid
        self.next_tid = tid + 1

    @property
    def running(self) -> Thread:
        return self.table[self.current]

    @property
    def multi(self) -> bool:
        """Whether more than one thread has ever been created (no switching otherwise)."""
        return len(self.table) > 1

    def rename(self, tid: int, name: str) -> None:
        """Thread `tid` takes this name; the main thread's is also the process's comm."""
        self.table[tid].name = name
        if tid == self.p.pid:
            self.p.comm = name

    def live(self) -> list[Thread]:
        return [t for t in self.table.values() if t.state != State.EXITED]

    # -- creating, parking, waking ------------------------------------------------------

    def create(self, regs: dict[str, int], clear_tid: int) -> Thread:
        """A new runnable thread with these registers; it inherits the signal mask."""
        tid = self.next_tid
        self.next_tid += 1
        raw = self.p.m.register_file.encode(regs)
        t = Thread(tid, regs=raw, clear_tid=clear_tid, sigmask=self.p.signals.blocked)
        t.name = self.running.name
        self.table[tid] = t
        return t

    def park(self, wait: Wait) -> None:
        """The running thread waits; the scheduler switches away after this syscall."""
        t = self.running
        t.state, t.wait = State.WAITING, wait
        self.switch_due = Why.BLOCK

    def others_could_run(self) -> bool:
        """Recording: whether a thread other than the running one runs now or may soon (a
        timed wait, a host wait), so that the running one must not block on the host."""
        current = self.current
        for t in self.table.values():  # a plain loop: this runs at every syscall with threads
            if t.tid == current:
                continue
            if t.state is State.RUNNABLE:
                return True
            w = t.wait
            if w is not None and (w.deadline is not None or w.kind == "host"):
                return True
        return False

    def plain_handover(self) -> bool:
        """Recording, the running thread having just blocked: whether the thread table alone
        decides the switch (a thread can run; no wait the host ends, no signal pending for
        any thread, no load reservation held), so it may happen inside the syscall hook."""
        if self.switch_due is not Why.BLOCK or self.p.host_signal is not None:
            return False
        runnable = False
        for t in self.table.values():
            if t.pending & ~t.sigmask:
                return False
            w = t.wait
            if w is not None and (w.deadline is not None or w.kind == "host"):
                return False
            if t.state is State.RUNNABLE:
                runnable = True
        return runnable and not self.p.m.reservation.read()

    def host_wait_plan(
        self, would_block: Callable[[], HostWatch | None], timeout_ms: int = -1
    ) -> tuple[HostWatch | None, int]:
        """Recording, inside a host call's closure: (what to watch, timeout in ms). With a
        watch the call must not block, as another thread could run: it logs -ERESTARTSYS and
        its thread parks until a watched fd is ready. Without one the call goes ahead with the
        time left of `timeout_ms` (-1: none), counted from its first attempt, so 0 once that
        has passed."""
        t = self.running
        remaining = -1
        if timeout_ms >= 0:
            now = time.monotonic_ns()
            if t.host_deadline is None:
                t.host_deadline = now + timeout_ms * 1_000_000
            remaining = max(0, -(-(t.host_deadline - now) // 1_000_000))
        if remaining != 0 and self.multi and self.others_could_run():
            watch = would_block()
            if watch is not None:
                return watch, remaining
        t.host_deadline = None
        return None, remaining

    def park_for_host(self, watch: HostWatch) -> None:
        """The running thread's call would block on the host (logged as -ERESTARTSYS): it
        waits for a watched fd or its timeout, then runs the same syscall instruction again."""
        p = self.p
        p.restart_syscall()
        deadline = self.running.host_deadline
        sig = p.signals
        mask = sig.blocked if sig.saved_mask is not None else None  # the call's own
        self.park(self.new_wait("host", host_fds=watch, deadline=deadline, mask=mask))

    def new_wait(self, kind: str, **kw: Any) -> Wait:
        self.wait_seq += 1
        return Wait(kind, self.wait_seq, **kw)

    def mask_of(self, t: Thread) -> int:
        """The signals thread `t` blocks now: a wait's own mask while it waits under one."""
        w = t.wait
        if w is not None and w.mask is not None:
            return w.mask
        return self.p.signals.blocked if t.tid == self.current else t.sigmask

    def resume(self, t: Thread, result: int) -> None:
        """End `t`'s wait with this syscall result. A host wait has none: its thread runs its
        syscall again (after a signal's handler if one interrupted it, with SA_RESTART), or,
        with -EINTR, the call fails with EINTR as Linux's does without SA_RESTART; a call
        that waited under a mask of its own keeps it until the signal's handler is entered,
        whose frame saves the thread's own (Linux restores it on the way out)."""
        w = t.wait
        host = w is not None and w.kind == "host"
        t.state, t.wait = State.RUNNABLE, None
        if host and result != -EINTR:
            return
        p = self.p
        if w is not None and w.mask is not None:
            if t.regs is None:
                p.signals.saved_mask, p.signals.blocked = p.signals.blocked, w.mask
            else:
                t.saved_mask, t.sigmask = t.sigmask, w.mask
        reg = p.arch.syscall_abi.result
        value = result & 0xFFFFFFFFFFFFFFFF
        # A parked host call's pc is on its syscall instruction; failing, it goes past it.
        past = p.arch.syscall_insn_size if host else 0
        if t.regs is None:  # the running thread itself (it waited while all others did)
            p.m.set_reg(reg, value)
            if past:
                p.m.set_reg(p.arch.pc, p.m.pc + past)
        else:
            rf = p.m.register_file
            t.regs = rf.replace(t.regs, reg, value)
            if past:
                pc = rf.value(t.regs, p.arch.pc)
                t.regs = rf.replace(t.regs, p.arch.pc, pc + past)

    def interrupted_result(self, t: Thread, sig: int) -> int:
        """The result a signal `sig` for the waiting thread `t` ends its wait with: -EINTR,
        or for a host call that runs again after the handler (SA_RESTART), -ERESTARTSYS."""
        w = t.wait
        if w is None or w.kind != "host":
            return -EINTR
        abi = self.p.arch.syscall_abi
        if t.regs is None:
            nr = self.p.m.reg(abi.number)
        else:
            nr = self.p.m.register_file.value(t.regs, abi.number)
        return -ERESTARTSYS if self.p.call_restarts(nr, sig) else -EINTR

    def waiters(self, addr: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> list[Thread]:
        """Threads waiting on the futex at `addr` whose bitset matches, oldest first."""
        found = [
            (w.seq, t)
            for t in self.table.values()
            if (w := t.wait) is not None
            and w.addr == addr
            and w.kind == "futex"
            and w.bitset & bitset
        ]
        if len(found) > 1:
            found.sort(key=lambda st: st[0])
        return [t for _seq, t in found]

    def futex_wake(self, addr: int, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
        woken = self.waiters(addr, bitset)[: max(0, count)]
        for t in woken:
            self.resume(t, 0)
        return len(woken)

    def futex_requeue(self, addr: int, wake: int, move: int, to: int) -> int:
        """Wake up to `wake` waiters of `addr` and move up to `move` others to `to`."""
        done = self.futex_wake(addr, wake)
        moved = self.waiters(addr)[: max(0, move)]
        for t in moved:
            assert t.wait is not None
            t.wait.addr = to
        return done + len(moved)

    def exit_running(self) -> None:
        """The running thread ends (exit): clear its tid word and wake a joiner, as Linux does
        for CLONE_CHILD_CLEARTID and set_tid_address."""
        t = self.running
        self._release_robust_futexes(t)
        if t.clear_tid:
            try:
                self.p.m.write(t.clear_tid, b"\0\0\0\0")
                self.futex_wake(t.clear_tid, 1)
            except Exception:  # an unmapped address: Linux ignores the fault as well
                pass
        t.state = State.EXITED
        self.switch_due = Why.EXIT

    def _release_robust_futexes(self, t: Thread) -> None:
        """Walk the thread's robust list: mutexes it still holds get FUTEX_OWNER_DIED and one
        waiter woken, as the kernel's exit_robust_list does."""
        head = t.robust_list
        if not head:
            return
        m = self.p.m
        try:
            entry, offset, pending = struct.unpack("<QqQ", m.read(head, 24))
            seen = 0
            entries = [pending] if pending else []
            while entry != head and seen < 2048:
                entries.append(entry)
                entry = int.from_bytes(m.read(entry, 8), "little")
                seen += 1
            for e in entries:
                word_addr = e + offset
                word = int.from_bytes(m.read(word_addr, 4), "little")
                if word & 0x3FFFFFFF == t.tid:
                    m.write(word_addr, ((word & 0x80000000) | 0x40000000).to_bytes(4, "little"))
                    if word & 0x80000000:
                        self.futex_wake(word_addr, 1)
        except Exception:  # a corrupt list stops the walk, as in the kernel
            return

    def interrupt(self, t: Thread, sig: int) -> None:
        """A signal `sig` for `t` ends its wait with EINTR, or runs its host call again."""
        if t.state == State.WAITING:
            self.resume(t, self.interrupted_result(t, sig))

    # -- switching --------------------------------------------------------------------------

    def due(self) -> int | None:
        """The icount of the next switch point (recording); replay follows the log instead."""
        if self.switch_due is not None:
            return self.p.m.icount
        if not self.multi:
            return None
        return self.slice_end if self.others_could_run() else None

    def end_quantum_early(self, due: int) -> bool:
        """Whether the quantum ending at `due` ends now instead, at the current icount (a
        block boundary before it). Chaos mode keeps the exact instruction, so that a race
        inside one basic block can show up."""
        if self.policy.chaos_seed is not None or self.switch_due is not None:
            return False
        if not self.multi or due != self.slice_end or self.due() != due:
            return False
        if self.p.m.icount == self.settled_at:
            return False
        self.slice_end = self.p.m.icount
        return True

    def settle(self) -> None:
        """Take every switch due at the current icount."""
        p = self.p
        now = p.m.icount
        if p.inputs.replaying:
            while True:
                ev = p.inputs.decide(EventKind.SWITCH, now, lambda: None)
                if ev is None:
                    break
                self._apply(ev)
            self.switch_due = None
            if self.running.state != State.RUNNABLE:
                raise DivergenceError(
                    now,
                    f"thread {self.current} to run on",
                    f"thread {self.current} {self.running.state.value} with no switch recorded",
                )
            return
        if self.switch_due is None and (not self.multi or now < self.slice_end):
            self.settled_at = now
            return
        why = self.switch_due or Why.QUANTUM
        ev = p.inputs.decide(EventKind.SWITCH, now, lambda: self._choose(now, why))
        if ev is not None:
            self._apply(ev)
        self.switch_due = None
        self.slice_end = now + self.policy.next_quantum()

    def _choose(self, now: int, why: Why) -> Event | None:
        """The recorder's pick: the next runnable thread, waiting on the host only when every
        thread waits. None: the running thread simply goes on."""
        wakes: list[tuple[int, int, int]] = []
        self._expire(wakes)
        while True:
            woken = {tid for tid, _r, _n in wakes}
            runnable = [
                t.tid for t in self.table.values() if t.state is State.RUNNABLE or t.tid in woken
            ]
            if self.p.host_signal is not None and self.running.state != State.RUNNABLE:
                # A signal from outside: it goes to a waiting thread that does not block it.
                target = self._signal_target(self.p.host_signal)
                if target is not None and target.tid not in woken:
                    result = self.interrupted_result(target, self.p.host_signal)
                    wakes.append((target.tid, result, self._remaining(target)))
                    runnable = [target.tid]
            if runnable:
                break
            self._wait_on_host()
            self._expire(wakes)
        if self.current in runnable and not wakes and why in (Why.QUANTUM, Why.YIELD):
            others = [t for t in runnable if t != self.current]
            if not others:
                return None
            runnable = others if why == Why.YIELD else runnable
        to = self.policy.pick(sorted(runnable), self.current)
        if to == self.current and not wakes:
            return None
        payload = b"".join([_WAKE.pack(tid, r, n) for tid, r, n in wakes]) if wakes else b""
        return Event(EventKind.SWITCH, now, (self.current, to, int(why)), 0, payload)

    def _signal_target(self, sig: int) -> Thread | None:
        for t in sorted(self.live(), key=lambda t: t.tid):
            if t.state == State.WAITING and not self.mask_of(t) & (1 << (sig - 1)):
                return t
        return None

    def _remaining(self, t: Thread) -> int:
        if t.wait is None or t.wait.deadline is None:
            return 0
        return max(0, t.wait.deadline - time.monotonic_ns())

    def _expire(self, wakes: list[tuple[int, int, int]]) -> None:
        """Waits whose host deadline has passed (recording only)."""
        if not any(
            t.wait is not None and (t.wait.deadline is not None or t.wait.kind == "host")
            for t in self.table.values()
        ):
            return  # nothing the host decides (the common case at every switch)
        now = time.monotonic_ns()
        ready = self._host_ready(0)
        for t in self.live():
            w = t.wait
            woken = any(tid == t.tid for tid, _r, _n in wakes)
            if w is None or woken:
                continue
            if w.deadline is not None and w.deadline <= now:
                wakes.append((t.tid, -ETIMEDOUT if w.kind == "futex" else 0, 0))
            elif w.kind == "host" and any(fd in ready for fd, _events in w.host_fds):
                wakes.append((t.tid, -ERESTARTSYS, 0))

    def _host_ready(self, timeout_ms: int | None) -> set[int]:
        """The host fds of host waits that are ready (waiting up to `timeout_ms`)."""
        fds: dict[int, int] = {}
        for t in self.live():
            if t.wait is not None and t.wait.kind == "host":
                for fd, events in t.wait.host_fds:
                    fds[fd] = fds.get(fd, 0) | events
        if not fds:
            if timeout_ms:
                time.sleep(timeout_ms / 1000)
            return set()
        poller = select.poll()
        for fd, events in fds.items():
            poller.register(fd, events)
        return {fd for fd, _events in poller.poll(timeout_ms)}

    def _wait_on_host(self) -> None:
        """Every thread waits: sleep until the earliest deadline or a signal from outside."""
        deadlines = [t.wait.deadline for t in self.live() if t.wait is not None and t.wait.deadline]
        inputs = self.p.inputs
        if self.p.host_signal is not None:
            return
        delay = (min(deadlines) - time.monotonic_ns()) / 1e9 if deadlines else 3600.0
        inputs.in_host = True  # type: ignore[attr-defined]  # a signal interrupts the sleep
        try:
            if delay > 0:  # until the earliest deadline or a host wait's fd is ready
                self._host_ready(max(1, int(delay * 1000)))
        except Exception as err:  # HostInterrupted: a signal from outside arrived
            if type(err).__name__ != "HostInterrupted":
                raise
        finally:
            inputs.in_host = False  # type: ignore[attr-defined]

    def _apply(self, ev: Event) -> None:
        """Carry out a switch event (chosen just now, or read from the recording)."""
        now = self.p.m.icount
        if len(ev.args) != 3 or len(ev.payload) % _WAKE.size:
            raise DivergenceError(now, "a well-formed thread switch", ev.describe())
        frm, to, _why = ev.args
        target = self.table.get(to)
        if frm != self.current or target is None or target.state == State.EXITED:
            raise DivergenceError(
                now,
                f"a switch from thread {frm} to thread {to}",
                f"thread {self.current} running and thread {to} "
                + ("absent" if target is None else target.state.value),
            )
        for tid, result, remaining in _WAKE.iter_unpack(ev.payload):
            t = self.table.get(tid)
            if t is None or t.state != State.WAITING or t.wait is None:
                raise DivergenceError(now, f"thread {tid} waiting", "it is not")
            if result == -EINTR and t.wait.kind == "sleep" and t.wait.rem:
                secs, ns = divmod(remaining, 1_000_000_000)
                self.p.m.write(t.wait.rem, struct.pack("<qq", secs, ns))
            self.resume(t, result)
        if target.state != State.RUNNABLE:
            raise DivergenceError(now, f"thread {to} runnable", f"thread {to} waiting")
        self.switch_to(to)

    def swap_signal_state(self, old: Thread, new: Thread, keep_old: bool) -> None:
        """The signal state of `new` becomes the process's, `old`'s kept in its thread
        (unless it exited): the one exchange both the Python and native switches make."""
        sig = self.p.signals
        if keep_old:
            old.sigmask, old.pending, old.altstack = sig.blocked, sig.pending, sig.altstack
            old.senders, old.saved_mask = sig.senders, sig.saved_mask
        sig.blocked, sig.pending, sig.altstack = new.sigmask, new.pending, new.altstack
        sig.senders, new.senders = new.senders, {}
        sig.saved_mask, new.saved_mask = new.saved_mask, None

    def switch_to(self, tid: int) -> None:
        """Put thread `tid` on the CPU: registers and per-thread signal state swap places."""
        self.switches += 1
        if tid == self.current:
            self.p.deliver_pending_signals()
            self.p.restore_wait_mask()
            return
        p, m = self.p, self.p.m
        old, new = self.running, self.table[tid]
        for listener in self.switch_listeners:
            listener(tid)
        if old.state != State.EXITED:
            old.regs = m.register_file.save()
        assert new.regs is not None
        m.register_file.load(new.regs)
        m.reservation.clear()  # as Linux's switch does (sc to a dummy; clrex)
        new.regs = None
        self.swap_signal_state(old, new, keep_old=old.state != State.EXITED)
        self.current = tid
        p.deliver_pending_signals()
        p.restore_wait_mask()

    # -- snapshots --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "next_tid": self.next_tid,
            "wait_seq": self.wait_seq,
            "threads": [
                t.to_state(self.p.m.register_file)
                for t in sorted(self.table.values(), key=lambda t: t.tid)
            ],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.current = state["current"]
        self.next_tid = state["next_tid"]
        self.wait_seq = state["wait_seq"]
        rf = self.p.m.register_file
        self.table = {s["tid"]: Thread.from_state(s, rf) for s in state["threads"]}
        self.switch_due = None
