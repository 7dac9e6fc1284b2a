"""The Linux process around the guest CPU: start-up, syscall dispatch, signals and exit."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import Any

import unicorn

from ttdbg.errors import DivergenceError, GuestError

from ..arch.counters import Counter
from ..dirtypages import DirtyPages
from ..eventlog import Event, EventKind
from ..filestore import FileStore
from ..inputs import EndOfLog, Inputs, Outcome, SpanOutcome
from ..loader import STACK_LIMIT, Identity, Program, build_stack, map_program, read_auxv
from ..machine import PAGE, PERM_R, PERM_X, Fault, Machine, RegisterFile, RegisterWriter
from .errnos import EFAULT, EINTR, ENOSYS
from .fastswitch import FastSwitch
from .fdtable import FdTable
from .host import HostIO
from .memory import AddressSpace
from .sharedfiles import SharedFiles
from .signals import (
    FP_FRAMES,
    FRAME_LAYOUTS,
    NEVER_RESTARTED,
    SA_NODEFER,
    SA_RESETHAND,
    SA_RESTART,
    SA_RESTORER,
    SI_KERNEL,
    SIG_DFL,
    SIG_IGN,
    SIGINFO_SIZE,
    SS_AUTODISARM,
    SS_DISABLE,
    UC_STACK,
    SigAction,
    SignalState,
    fault_siginfo,
)
from .threads import SchedulePolicy, State, Threads

# Bumped whenever the emulated process behaves differently for the same program and inputs
# (memory layout, syscall results computed here): a recording replays only on its own version.
# 13: real sockets, SIGPIPE with EPIPE, parked pipe writes; faults' siginfo; /proc/self
# status, stat, statm, maps and comm made at each read from the start, maps' header space
PLATFORM_VERSION = 13
Console = Callable[[int, bytes], None]


class LinuxPlatform:
    """One single-threaded Linux process: its fds, address space, signals and identity."""

    def __init__(
        self,
        machine: Machine,
        program: Program,
        inputs: Inputs,
        host: HostIO | None = None,
        console: Console | None = None,
        files: FileStore | None = None,
        policy: SchedulePolicy | None = None,
    ) -> None:
        from .calls import ROWS, SYSCALLS  # the table imports this module's types

        self.m = machine
        # Captures and restores touch only the pages written since the last known state.
        machine.dirty = DirtyPages.over_address_space(machine.counter, machine.uc)
        self.arch = machine.arch
        self.program = program
        self.inputs = inputs
        self.host = host
        self.console = console
        self.files = files if files is not None else FileStore()  # mapped files, by digest
        self.fds = FdTable.with_stdio()
        self.mem = AddressSpace(
            machine, program.brk_start, self.arch.mmap_base, self.arch.stack_top, STACK_LIMIT
        )
        self.shared_files = SharedFiles(self)
        self.signals = SignalState()
        self.threads = Threads(self, policy)
        self.pid = 1
        self.uid = 0
        self.umask = 0o022
        self.comm = ""  # the name /proc/self/comm and prctl(PR_GET_NAME) show
        self.start_stack = 0  # the initial stack pointer (Linux's mm->start_stack)
        # Where argv's and envp's strings lie in guest memory, as /proc/self/cmdline reads them.
        self.arg_range = (0, 0)
        self.env_range = (0, 0)
        self.exit_status: int | None = None
        self.exit_signal: int | None = None
        self.enosys: dict[str, int] = {}
        # What the guest asked for that ttdbg does not offer (a socket family, an option),
        # answered with an errno, by description: for the recording's report, like `enosys`.
        self.unoffered: dict[str, int] = {}
        self.error: Exception | None = None
        self.end_of_log: EndOfLog | None = None
        self.syscall_icount = 0
        self._in_syscall = False
        self._in_handler = False
        self._syscall_pc = 0
        machine.syscall_running = self.syscall_running
        machine.signal_delivering = lambda: self._delivering
        self._delivering: tuple[int, int, int] | None = None
        self._restart = False
        self.syscall_nr = 0
        self.syscall_args: tuple[int, ...] = ()
        self._table = SYSCALLS
        self._futex_nr = self.arch.syscall_numbers.get("futex", -1)
        self._futex = ROWS["futex"].handler
        self._names = self.arch.syscall_names
        self._abi = self.arch.syscall_abi
        self._syscall_regs = RegisterFile(
            machine.uc,
            [self.arch.register(r) for r in (self.arch.pc, self._abi.number, *self._abi.args)],
        )
        self._result_reg = RegisterWriter(machine.uc, self.arch.register(self._abi.result))
        machine.on_syscall = self._on_syscall
        machine.on_fault = self._on_fault
        machine.on_unmapped = lambda addr, size: self.mem.grow_stack(addr)
        machine.on_protected = lambda addr: self.mem.protection_signal(addr)
        machine.next_async = self.next_async
        machine.on_async = self.deliver_async
        machine.counter_reads.source = self.read_counter
        machine.at_rest = self.settle
        machine.take_early = self.take_switch_early
        self.host_signal: int | None = None  # set by the recorder's signal handler
        self.auxv = b""  # as the loader laid it out; gdb reads it (qXfer:auxv:read)
        # Recording: futex calls and the thread switches they make, in native code.
        self.fast_switch = None if inputs.replaying else FastSwitch(self)

    # -- start-up ---------------------------------------------------------------------------

    def start(self, argv: list[bytes], envp: list[bytes], execfn: bytes) -> None:
        """Map the program and build its stack; identity and AT_RANDOM come from the inputs."""

        def host_identity() -> Outcome:
            ids = (os.getpid(), os.getuid(), os.geteuid(), os.getgid(), os.getegid())
            return 0, b"".join(i.to_bytes(4, "little") for i in ids) + os.urandom(16)

        _, payload = self.inputs.take(EventKind.START, 0, (), host_identity)
        ids = [int.from_bytes(payload[i : i + 4], "little") for i in range(0, 20, 4)]
        self.pid, self.uid = ids[0], ids[1]
        identity = Identity(uid=ids[1], euid=ids[2], gid=ids[3], egid=ids[4], random=payload[20:36])
        map_program(self.m, self.program, self.mem.host.map)
        sp = build_stack(self.m, self.program, argv, envp, execfn, identity)
        self.auxv = read_auxv(self.m, sp)
        self.m.set_reg(self.arch.sp, sp)
        self.start_stack = sp
        self.m.set_reg(self.arch.pc, self.program.start_pc)
        self.comm = os.path.basename(execfn)[:15].decode(errors="surrogateescape")
        self.threads.start(self.pid, self.comm)
        self.arg_range, self.env_range = _string_ranges(self.m, sp, argv, envp)
        self.arch.setup(self.m.uc)
        for name, value in self.arch.initial_registers.items():
            self.m.set_reg(name, value)

    # -- syscalls ---------------------------------------------------------------------------

    @property
    def live(self) -> HostIO:
        """The host, for the closures handlers pass to `host_call` (never run in replay)."""
        if self.host is None:
            raise GuestError("internal error: host access during replay")
        return self.host

    def host_call(self, fn: Callable[[], Outcome]) -> Outcome:
        """Ask the outside world (logged when recording, from the log when replaying)."""
        key = (self.syscall_nr, *self.syscall_args)
        return self.inputs.take(EventKind.SYSCALL, self.syscall_icount, key, fn)

    def host_read(self, fn: Callable[[], SpanOutcome]) -> Outcome:
        """`host_call` for a read: what it read from a file the recording stores is logged
        as a reference to that file's content, not as a copy."""
        key = (self.syscall_nr, *self.syscall_args)
        return self.inputs.take_span(EventKind.SYSCALL, self.syscall_icount, key, fn)

    def _on_syscall(self, m: Machine) -> None:
        if self.error is not None or self.end_of_log is not None:
            m.request_stop()
            return
        pc, nr, *rest = self._syscall_regs.values()
        args = tuple(rest)
        self._syscall_pc = pc
        self.syscall_icount = m.icount_at(self._syscall_insn())
        self.syscall_nr, self.syscall_args = nr, args
        if nr == self._futex_nr and self._futex_fast(args):
            return
        name = self._names.get(nr, f"syscall_{nr}")
        handler = self._table.get(name)
        self._in_syscall = True
        try:
            self._dispatch(m, name, handler, args)
        finally:
            self._in_syscall = False

    def _futex_fast(self, args: tuple[int, ...]) -> bool:
        """futex, the call of every thread switch, straight to its handler when nothing
        around it needs the general path: no signal pending, due or to restore a mask for.
        Then all `_dispatch` adds is writing the result. False: take the general path."""
        sig = self.signals
        if sig.pending or sig.saved_mask is not None or self.host_signal is not None:
            return False
        if self.inputs.replaying:
            ev = self.inputs.peek()
            if ev is not None and ev.kind == EventKind.SIGNAL:
                return False
        self._in_syscall = self._in_handler = True  # its memory writes are the syscall's own
        try:
            # The handler masks every argument itself, so the raw registers need no decoding.
            result = self._futex(self, args)
        except unicorn.UcError:
            result = -EFAULT
        finally:
            self._in_syscall = self._in_handler = False
        if result is not None:
            self._result_reg.write(result)
        elif not self.inputs.replaying and self.threads.plain_handover():
            self._hand_over_in_hook()
        return True

    def _hand_over_in_hook(self) -> None:
        """Recording: the thread that just blocked in futex hands the CPU to the next one
        right in the syscall hook, sparing the emulator a stop and a restart. The SWITCH event
        and the state after it are the ones the run loop would make at this icount (a syscall
        ends its block, so the count is exact); replay takes the switch there."""
        threads = self.threads
        old = threads.running
        self._in_syscall = True  # the new thread's pc, as _set_pc puts it from a hook
        try:
            threads.settle()
            if self.arch.syscall_interrupt is None:
                # x86: the hook runs with rip still on the syscall, and Unicorn adds the
                # instruction's length when it returns; the saved thread goes on past it.
                self._set_pc(self.m.pc)
                if old.regs is not None:
                    rf, pc = self.m.register_file, self.arch.pc
                    after = rf.value(old.regs, pc) + self.arch.syscall_insn_size
                    old.regs = rf.replace(old.regs, pc, after)
        finally:
            self._in_syscall = False
        self.m.rearm()

    def _dispatch(
        self,
        m: Machine,
        name: str,
        handler: Callable[..., int | None] | None,
        args: tuple[int, ...],
    ) -> None:
        try:
            if handler is None:
                self.enosys[name] = self.enosys.get(name, 0) + 1
                result: int | None = -ENOSYS
            else:
                self._in_handler = True  # its memory writes are the syscall's own
                try:
                    if self.mem.shared.maps:
                        self.shared_files.before(name, args)
                    result = handler(self, args)
                    if self.mem.shared.maps:
                        self.shared_files.after(name, args, result)
                finally:
                    self._in_handler = False
        except unicorn.UcError:
            result = -EFAULT
        except EndOfLog as end:
            self.end_of_log = end
            m.request_stop()
            return
        except (DivergenceError, GuestError) as err:
            self.error = err
            m.request_stop()
            return
        except (struct.error, ValueError, OverflowError) as err:
            if not self.inputs.replaying:
                raise
            # The handler's only input besides the guest is the log: an answer it cannot
            # unpack (a clock of 9 bytes, a count past 2^63) is a log that was altered.
            self.error = DivergenceError(
                self.syscall_icount, f"a well-formed recorded answer to {name}", f"{err}"
            )
            m.request_stop()
            return
        # A thread that blocked or exited in this call takes nothing more now: the switch
        # away from it comes first, and a signal goes to whichever thread runs then.
        goes_on = self.threads.running.state == State.RUNNABLE
        if m.halted is None and goes_on:
            due = self.next_signal()
            if due is not None and due <= self.syscall_icount + 1:
                self._take_async(self.syscall_icount + 1)
        # A call interrupted by a signal whose handler asked for SA_RESTART runs again once the
        # handler returns, as on Linux: the registers keep the call, the pc goes back to it.
        self._restart = (
            result == -EINTR and name not in NEVER_RESTARTED and self._next_signal_restarts()
        )
        if result is not None and not self._restart:
            self._result_reg.write(result)
        if m.halted is None and goes_on:
            self.deliver_pending_signals()
        self._restart = False
        if self.signals.saved_mask is not None:
            self.signals.restore_saved_mask()
            # A signal the call's mask held back is taken now, as on the way out of Linux's.
            if m.halted is None and goes_on:
                self.deliver_pending_signals()

    # -- exit and signals ---------------------------------------------------------------------

    def exit(self, status: int, signal: int = 0) -> None:
        """End the process; the exit is logged (or checked) at the current syscall's icount."""
        icount = self.m.icount
        self.inputs.note(Event(EventKind.EXIT, icount, (status & 0xFF, signal)))
        self.exit_status = status & 0xFF
        self.exit_signal = signal or None
        self.m.halt()
        self.m.icount = icount

    def exit_from_syscall(self, status: int) -> None:
        self.m.icount = self.syscall_icount + 1
        self.exit(status)

    def read_counter(self, counter: Counter, icount: int, pc: int) -> int:
        """A CPU time counter read at `icount`: the host's monotonic clock at the counter's
        rate while recording, the logged value in replay (checked: same counter, pc, icount).
        RISC-V's instret is the guest's own icount, which replay computes the same."""
        if counter == Counter.INSTRET:
            return icount
        hz = self.arch.counter_hz[counter]

        def host() -> Outcome:
            return time.monotonic_ns() * hz // 1_000_000_000, b""

        try:
            value, _ = self.inputs.take(EventKind.COUNTER, icount, (counter, pc), host)
        except EndOfLog as end:
            self.end_of_log = end
            self.m.request_stop()
            return 0
        except DivergenceError as err:
            self.error = err
            self.m.request_stop()
            return 0
        return value

    def next_signal(self) -> int | None:
        """Where the next signal from outside arrives: now, if the recorder has caught one;
        at its logged icount when replaying."""
        if self.inputs.replaying:
            ev = self.inputs.peek()
            return ev.icount if ev is not None and ev.kind == EventKind.SIGNAL else None
        return self.m.icount if self.host_signal is not None else None

    def next_async(self) -> int | None:
        """Where the run must stop next for something from outside the running thread: a
        signal from outside or a thread switch (both from the log when replaying)."""
        if self.inputs.replaying:
            ev = self.inputs.peek()
            if ev is not None and ev.kind in (EventKind.SIGNAL, EventKind.SWITCH):
                return ev.icount
            return None
        signal = self.m.icount if self.host_signal is not None else None
        switch = self.threads.due()
        if signal is None or switch is None:
            return switch if signal is None else signal
        return min(signal, switch)

    def take_switch_early(self, due: int) -> bool:
        """Recording: a quantum ending at `due` may end at the block boundary the CPU
        stopped at instead (the recorder chooses where a quantum ends; the log says where)."""
        if self.inputs.replaying or self.host_signal is not None:
            return False
        return self.threads.end_quantum_early(due)

    def deliver_async(self, icount: int) -> None:
        """Take the thread switch due now, then deliver the signal from outside (logged when
        recording, from the log in replay)."""
        self.settle()
        if self.error is not None or self.m.halted is not None:
            return
        due = self.next_signal()
        if due is not None and due <= icount and self._take_async(icount):
            self.deliver_pending_signals()
        self.signals.restore_saved_mask()

    def restore_wait_mask(self) -> None:
        """A thread just switched to whose wait under a mask of its own a signal ended: its
        own mask again, unless a signal from outside is about to be taken first (delivering
        it saves the own mask in its frame)."""
        if self.signals.saved_mask is None or self._in_syscall:
            return
        due = self.next_signal()
        if due is None or due > self.m.icount:
            self.signals.restore_saved_mask()

    def settle(self) -> None:
        """Take every thread switch due at the current icount (between instructions)."""
        if self.m.halted is not None or self.error is not None:
            return
        try:
            self.threads.settle()
        except DivergenceError as err:
            self.error = err
            self.m.request_stop()

    def _next_signal_restarts(self) -> bool:
        ready = self.signals.pending & ~self.signals.blocked
        if not ready:
            return False
        act = self.signals.action((ready & -ready).bit_length())
        return act.handler not in (SIG_DFL, SIG_IGN) and bool(act.flags & SA_RESTART)

    def call_restarts(self, nr: int, sig: int) -> bool:
        """Whether syscall `nr`, interrupted by signal `sig` while it waited, runs again after
        the handler instead of failing with EINTR: Linux restarts it when the handler was
        installed with SA_RESTART (or no handler runs), never for the calls that wait for
        events or time (poll, select, epoll_wait, sleeps)."""
        if self._names.get(nr, "") in NEVER_RESTARTED:
            return False
        act = self.signals.action(sig)
        return act.handler in (SIG_DFL, SIG_IGN) or bool(act.flags & SA_RESTART)

    def ends_host_wait(self, sig: int) -> bool:
        """Whether a signal from outside ends a wait on the host: a thread takes it (the
        running thread's mask, or a waiting thread's); one every thread blocks stays pending."""
        if self.signals.is_ignored(sig):
            return False
        bit = 1 << (sig - 1)
        threads = self.threads
        return any(not threads.mask_of(t) & bit for t in threads.live())

    def take_signal_during_call(self) -> bool:
        """A signal from outside that ended a host wait inside the current call: pending now
        (logged just after the call, or taken from the log there)."""
        return self._take_async(self.syscall_icount + 1)

    def _take_async(self, icount: int) -> bool:
        """Make the signal from outside pending (logged, or checked against the log)."""
        sig = self.host_signal or 0
        self.host_signal = None
        try:
            got, _ = self.inputs.take(EventKind.SIGNAL, icount, (), lambda: (sig, b""))
        except (DivergenceError, EndOfLog) as err:
            if isinstance(err, EndOfLog):
                self.end_of_log = err
            else:
                self.error = err
            self.m.request_stop()
            return False
        self.kill_self(got)
        return True

    def kill_self(self, sig: int, code: int = SI_KERNEL) -> None:
        """Make `sig` pending on the running thread; `code` says who sent it (si_code)."""
        sender = (code, 0, 0) if code == SI_KERNEL else (code, self.pid, self.uid)
        self.signals.raise_signal(sig, sender)

    def deliver_pending_signals(self) -> None:
        while self.m.halted is None:
            sig = self.signals.next_deliverable()
            if sig is None:
                return
            self._deliver(sig)

    def _deliver(self, sig: int) -> None:
        act = self.signals.action(sig)
        if act.handler == SIG_IGN:
            return
        if act.handler == SIG_DFL:
            self.exit(128 + sig, sig)
            return
        # At the end of a syscall the frame is written during it; between instructions, as
        # the next one begins (replay delivers it when it runs on from there).
        when = self.syscall_icount if self._in_syscall else self.m.icount
        self._push_signal_frame(sig, act, when)
        if act.flags & SA_RESETHAND:
            self.signals.actions[sig] = SigAction()

    def _on_fault(self, m: Machine, fault: Fault) -> None:
        act = self.signals.action(fault.signal)
        blocked = self.signals.blocked & (1 << (fault.signal - 1))
        if act.handler in (SIG_DFL, SIG_IGN) or blocked:
            self.exit(128 + fault.signal, fault.signal)
            return
        self._push_signal_frame(fault.signal, act, m.icount, fault)  # the faulting instruction

    # Where the pc stands during a syscall differs: a trap (svc, ecall) reports it past the
    # instruction; x86's syscall hook runs before Unicorn moves rip past it, and Unicorn adds
    # the instruction's length to whatever rip holds when the hook returns.

    def syscall_running(self) -> tuple[int, int, int] | None:
        """(icount, pc, number) of the syscall whose handler runs now, else None (a signal
        frame, a thread's start, a restore are no syscall's writes)."""
        if not self._in_handler:
            return None
        return self.syscall_icount, self._syscall_insn(), self.syscall_nr

    def _syscall_insn(self) -> int:
        """The address of the syscall instruction being handled."""
        trap = self.arch.syscall_interrupt is not None
        return self._syscall_pc - self.arch.syscall_insn_size if trap else self._syscall_pc

    def return_pc(self) -> int:
        """Where the thread making the current syscall goes on after it."""
        return self._syscall_insn() + self.arch.syscall_insn_size

    def restart_syscall(self) -> None:
        """The current syscall runs again when its thread next runs: the pc goes back to it
        (the registers still hold the call, as no result is written)."""
        self._set_pc(self._syscall_insn())

    def _set_pc(self, addr: int) -> None:
        """Point the guest at `addr`, also from inside the syscall hook."""
        if self._in_syscall and self.arch.syscall_interrupt is None:
            addr -= self.arch.syscall_insn_size
        self.m.set_pc(addr)

    def _trampoline(self, code: bytes) -> int:
        """A page above the stack holding the sigreturn trampoline, mapped on first use."""
        addr = self.arch.stack_top
        if not self.m.is_mapped(addr, 1):
            self.m.uc.mem_map(addr, PAGE, PERM_R | PERM_X)
            self.m.write(addr, code)
        return addr

    def _push_signal_frame(
        self, sig: int, act: SigAction, icount: int, fault: Fault | None = None
    ) -> None:
        """Build the architecture's rt_sigframe and enter the handler, as the kernel does;
        the frame's writes are told (see `signal_delivering`) as made by instruction `icount`
        (the state at `icount` is without the frame, the state after it has it). A fault's
        siginfo says what faulted and where."""
        self._delivering = (icount, self._resume_pc(), sig)
        try:
            self._write_signal_frame(sig, act, fault)
        finally:
            self._delivering = None

    def _write_signal_frame(self, sig: int, act: SigAction, fault: Fault | None) -> None:
        lay = FRAME_LAYOUTS[self.arch.name]
        fp = FP_FRAMES[self.arch.name]
        m = self.m
        regs = m.register_file.read()
        size = lay.ucontext_size + SIGINFO_SIZE
        interrupted_sp = regs[self.arch.sp]
        below = interrupted_sp - lay.red_zone
        stack_top = self.signals.signal_stack_top(below, act.flags)
        if stack_top is not None:
            below = stack_top
        fp_image = fp.pack(regs)
        if fp.pointer is not None:  # a separate area under the frame, 64-byte aligned
            below = (below - fp.size) & ~0x3F
            m.write(below, fp_image)
        ucontext = bytearray(lay.ucontext_size)
        for i, name in enumerate(lay.saved):
            value = regs[name] if name != self.arch.pc else self._resume_pc()
            ucontext[lay.mcontext + 8 * i : lay.mcontext + 8 * i + 8] = value.to_bytes(8, "little")
        ucontext[lay.sigmask : lay.sigmask + 8] = self.signals.mask_for_frame().to_bytes(
            8, "little"
        )
        ucontext[UC_STACK : UC_STACK + 24] = self.signals.altstack_image(interrupted_sp)
        if stack_top is not None and self.signals.altstack[1] & SS_AUTODISARM:
            self.signals.altstack = (0, SS_DISABLE, 0)
        if fp.pointer is not None:
            ucontext[fp.pointer : fp.pointer + 8] = below.to_bytes(8, "little")
        else:
            assert fp.offset is not None
            ucontext[fp.offset : fp.offset + len(fp_image)] = fp_image
        siginfo = (
            self.signals.siginfo(sig)
            if fault is None
            else fault_siginfo(sig, fault.code, fault.addr)
        )
        if act.flags & SA_RESTORER and act.restorer:
            ret = act.restorer
        else:
            ret = self._trampoline(lay.trampoline) if lay.trampoline else 0
        if lay.info_first:
            frame = (below - size) & ~0xF
            info_addr, uc_addr = frame, frame + SIGINFO_SIZE
            m.write(frame, siginfo + bytes(ucontext))
            sp = frame
        else:  # x86-64: the return address sits where the handler's `ret` will pop it
            sp = ((below - size - 8) & ~0xF) - 8
            uc_addr, info_addr = sp + 8, sp + 8 + lay.ucontext_size
            m.write(sp, ret.to_bytes(8, "little") + bytes(ucontext) + siginfo)
        self.signals.blocked |= act.mask | (0 if act.flags & SA_NODEFER else 1 << (sig - 1))
        for name, value in self.arch.signal_entry_registers.items():
            m.set_reg(name, value)
        m.set_reg(self.arch.sp, sp)
        for reg, value in zip(lay.args, (sig, info_addr, uc_addr), strict=True):
            m.set_reg(reg, value)
        if lay.link is not None:
            m.set_reg(lay.link, ret)
        self._set_pc(act.handler)

    def _resume_pc(self) -> int:
        """Where the interrupted code goes on: past the syscall when one was running, or back
        onto it when it restarts."""
        pc = self.m.pc  # current, not the syscall's: rt_sigreturn may have just moved it
        if not self._in_syscall:
            return pc
        size = self.arch.syscall_insn_size
        after = pc if self.arch.syscall_interrupt is not None else pc + size
        return after - size if self._restart else after

    def sigreturn(self) -> None:
        """rt_sigreturn: restore the registers and mask saved by `_push_signal_frame`."""
        lay = FRAME_LAYOUTS[self.arch.name]
        sp = self.m.reg(self.arch.sp)
        # x86-64's handler `ret` popped the return address: sp is the ucontext. Elsewhere the
        # frame starts at sp with the siginfo.
        uc_addr = sp + SIGINFO_SIZE if lay.info_first else sp
        data = self.m.read(uc_addr, lay.ucontext_size)
        fp = FP_FRAMES[self.arch.name]
        if fp.pointer is not None:
            where = int.from_bytes(data[fp.pointer : fp.pointer + 8], "little")
            fp_regs = fp.unpack(self.m.read(where, fp.size)) if where else {}
        else:
            assert fp.offset is not None
            fp_regs = fp.unpack(data[fp.offset : fp.offset + fp.size])
        for name, value in fp_regs.items():
            self.m.set_reg(name, value)
        for i, name in enumerate(lay.saved):
            value = int.from_bytes(data[lay.mcontext + 8 * i : lay.mcontext + 8 * i + 8], "little")
            if name == self.arch.pc:
                self._set_pc(value)
            else:
                self.m.set_reg(name, value)
        self.signals.blocked = int.from_bytes(data[lay.sigmask : lay.sigmask + 8], "little")
        # As the kernel's restore_altstack: what uc_stack says (re-arms SS_AUTODISARM).
        if not self.signals.on_altstack(self.m.reg(self.arch.sp)):
            self.signals.set_altstack(data[UC_STACK : UC_STACK + 24], 0)

    # -- state for snapshots ----------------------------------------------------------------

    def not_offered(self, what: str) -> None:
        """Count a request answered with an errno because ttdbg does not offer it."""
        self.unoffered[what] = self.unoffered.get(what, 0) + 1

    def to_state(self) -> dict[str, Any]:
        return {
            "fds": self.fds.to_state(),
            "mem": self.mem.to_state(),
            "signals": self.signals.to_state(),
            "pid": self.pid,
            "umask": self.umask,
            "comm": self.comm,
            "arg_range": list(self.arg_range),
            "env_range": list(self.env_range),
            "start_stack": self.start_stack,
            "enosys": dict(sorted(self.enosys.items())),
            "threads": self.threads.to_state(),
        }

    def reset(self, exit_outcome: tuple[int | None, int | None]) -> None:
        """After a restore: nothing left of the last run (its error, the end of the log);
        `exit_outcome` is the guest's (status, signal) if the state is past its end."""
        self.error = self.end_of_log = None
        self.exit_status, self.exit_signal = exit_outcome

    def load_state(self, state: dict[str, Any]) -> None:
        self.fds = FdTable.from_state(state["fds"])
        self.mem.load_state(state["mem"])
        self.signals = SignalState.from_state(state["signals"])
        self.pid = state["pid"]
        self.umask = state["umask"]
        self.comm = state.get("comm", "")
        self.arg_range = tuple(state.get("arg_range", (0, 0)))
        self.env_range = tuple(state.get("env_range", (0, 0)))
        self.start_stack = int(state.get("start_stack", 0))
        self.enosys = dict(state["enosys"])
        if "threads" in state:
            self.threads.load_state(state["threads"])
        else:  # recorded before threads existed: one thread, the process
            self.threads.start(self.pid, self.comm)


def _string_ranges(
    m: Machine, sp: int, argv: list[bytes], envp: list[bytes]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The [start, end) of argv's and envp's strings, found from the pointers on the stack."""

    def span(first_ptr: int, strings: list[bytes]) -> tuple[int, int]:
        if not strings:
            return (0, 0)
        start = int.from_bytes(m.read(first_ptr, 8), "little")
        return start, start + sum(len(s) + 1 for s in strings)

    argv_ptr = sp + 8
    envp_ptr = argv_ptr + 8 * (len(argv) + 1)
    return span(argv_ptr, argv), span(envp_ptr, envp)
