"""The firmware platform: a board's memory and devices on a Machine, its virtual clock, the
serial console, and interrupts entered at icounts that are the same in record and replay.

It plays the role `LinuxPlatform` plays for a Linux program (the recorder, replayer and
timeline drive either one): `start`, `to_state`/`load_state`, `exit_status`, `error`.

When things happen, exactly:
- a device deadline (a timer) at the icount `deadline()` names;
- serial input at the icount it was logged at (recording: at a poll point, or after a wfi);
- after an MMIO access that changed an interrupt line, or an instruction that can unmask
  one (`Board.unmasks`), at the end of that translated block: every such instruction and the
  next instruction that ends a block do not depend on where runs start or stop;
- at each of these the board may enter an interrupt (`Board.take_interrupt`).
A wfi retires at once: if nothing wakes it, virtual time skips to the next deadline (adding
to the clock's idle time, which snapshots keep), or, while recording, waits for input.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import capstone
import unicorn

from ttdbg.errors import DivergenceError, GuestError, GuestFault

from ..dirtypages import DirtyPages
from ..eventlog import Event, EventKind
from ..icount import Block, _lib
from ..inputs import EndOfLog, Inputs
from ..loader import Program
from ..machine import BAD_FETCH, BAD_READ, BAD_WRITE, SIGSEGV, Fault, Machine
from . import FIRMWARE_PLATFORM_VERSION, MachineSpec, board_class
from .board import Trap
from .clock import ClockReadings, VirtualClock
from .serialinput import SerialInput

Console = Callable[[int, bytes], None]
POLL_EVERY = 1 << 16  # instructions between looks at the host's serial input while recording
MAX_IDLE_WAIT = 0.05  # seconds one wfi waits for input in real time before skipping ahead
BUS_ERRORS = (BAD_READ, BAD_WRITE, BAD_FETCH)


@dataclass(frozen=True)
class EnteredInterrupt:
    """The last interrupt the CPU entered: where and which."""

    icount: int
    number: int


class FirmwareError(GuestError):
    """The firmware did something the machine model does not answer (recording stops)."""


class _Cpu:
    """The one CPU, in the shape the timeline lists threads in."""

    class _State:
        value = "runnable"

    def __init__(self) -> None:
        self.tid = 1
        self.name = "cpu0"
        self.state = self._State()
        self.regs: bytes | None = None


class _Position(ctypes.Structure):
    """The native position hook's state (bc_position)."""

    _fields_ = [("pc", ctypes.c_uint64)]


class OneCpu:
    """The thread table of a single-CPU machine: one entry, always current."""

    def __init__(self) -> None:
        self.current = 1
        self.table = {1: _Cpu()}


class FirmwarePlatform(ClockReadings):
    """One board with its CPU, devices and clock, recorded or replayed."""

    def __init__(
        self,
        spec: MachineSpec,
        program: Program,
        inputs: Inputs,
        console: Console | None = None,
        serial_in: SerialInput | None = None,
    ) -> None:
        self.spec = spec
        self.program = program
        self.inputs = inputs
        self.console = console
        self.serial_in = serial_in
        self.clock = VirtualClock(spec.icount_shift)
        self.board = board_class(spec.name, spec.arch)(self, spec.cpu)
        self.m = Machine(self.board.arch)
        self.arch = self.m.arch
        self.threads = OneCpu()
        self.exit_status: int | None = None
        self.exit_signal: int | None = None
        self.exit_reason = ""
        self.error: Exception | None = None
        self.end_of_log: EndOfLog | None = None
        self.host_signal: int | None = None
        self.enosys: dict[str, int] = {}
        self.auxv = b""
        self.check_at: int | None = None  # an interrupt recheck due at this icount
        self.deadline_floor: int | None = None  # no device deadline takes effect before it
        self.serial_due: int | None = None  # recording: input waits for delivery here
        self.last_interrupt: EnteredInterrupt | None = None
        # Told of each interrupt entry (the timeline's interrupt stops and lane).
        self.entered: Callable[[EnteredInterrupt], None] | None = None
        # Told of each serial byte written, with the writing instruction's icount and the port.
        self.written: Callable[[int, int, bytes], None] | None = None
        self._access_icount: int | None = None
        self._next_poll = 0
        self._quiet_at = -1  # recording: no input is delivered at this icount
        self._cs = capstone.Cs(self.arch.cs_arch, self.arch.cs_mode)
        self._hooked: set[int] = set()
        self._pc_id = self.arch.register(self.arch.pc).uc_id
        m = self.m
        m.next_async = self.next_async
        m.on_async = self.deliver_async
        m.at_rest = self.settle
        m.on_fault = self._on_fault
        m.on_unmapped = self._unmapped
        m.on_trap = self._trap
        self._unmapped_access: tuple[int, int] | None = None
        self._trap_at: int | None = None  # the pc of the trap being entered
        m.counter.listeners.append(self)
        m.counter_reads.source = self._counter
        # The pc of the instruction making an MMIO access (Unicorn's pc register is stale there).
        self._position = _Position()
        m.counter.add_native_hook(
            unicorn.UC_HOOK_CODE, _lib.bc_position_hook, ctypes.byref(self._position)
        )

    # -- setting up ---------------------------------------------------------------------------

    def start(self, argv: list[bytes], envp: list[bytes], execfn: bytes) -> None:
        """Map memory and devices, load the ELF as QEMU's -kernel does, reset the CPU."""
        m = self.m
        for region in self.board.memory:
            m.uc.mem_map(region.base, region.size, region.perms)
        # The map never changes: restores and captures touch only the pages written.
        m.dirty = DirtyPages(m.counter, [(r.base, r.base + r.size) for r in self.board.memory])
        for seg in self.program.all_segments:
            # At the physical (load) address, as QEMU's -kernel loads an ELF: start-up code
            # copies .data from there (flash) to where it runs (RAM).
            if not any(
                r.base <= seg.paddr and seg.paddr + len(seg.data) <= r.base + r.size
                for r in self.board.memory
            ):
                raise FirmwareError(
                    f"segment at {seg.paddr:#x} ({len(seg.data):,} bytes) lies outside the "
                    f"memory of machine {self.spec.name}"
                )
            m.write(seg.paddr, seg.data)
        for dev in self.board.devices:
            size = -(-dev.size // 0x1000) * 0x1000
            m.uc.mmio_map(dev.base, size, self._mmio_read, dev, self._mmio_write, dev)
        m.mmio_regions = tuple(
            (d.base, d.base + -(-d.size // 0x1000) * 0x1000) for d in self.board.devices
        )
        self.arch.setup(m.uc)
        self.board.reset(m, self.program)

    # -- the bus devices see ------------------------------------------------------------------

    def icount(self) -> int:
        return self._access_icount if self._access_icount is not None else self.m.icount

    def interrupts_changed(self) -> None:
        # Only a pending interrupt the CPU could take needs a recheck: a line that went low,
        # or one still masked in mie, changes nothing until something else does.
        if self._access_icount is not None and self.board.wakes(self.m):
            self._recheck_at_block_end()

    def output(self, port: int, data: bytes) -> None:
        if self.written is not None:
            self.written(self.icount(), port, data)
        if self.console is not None:
            self.console(1, data)  # the serial console is what stdout is for a program

    def finish(self, status: int, why: str) -> None:
        icount = self.icount() + 1  # the store that powered off retires
        self.exit_reason = why
        try:
            self.inputs.note(Event(EventKind.EXIT, icount, (status & 0xFF, 0)))
        except (DivergenceError, EndOfLog) as err:
            self.error = err
        self.exit_status = status & 0xFF
        self.m.icount = icount
        self.m.halt()

    def fail(self, message: str) -> None:
        if self._access_icount is not None:  # a device refused an access: name where
            message += f" at pc {self._position.pc:#x} (icount {self._access_icount})"
        self.error = FirmwareError(message)
        self.m.request_stop()

    @contextmanager
    def instruction_access(self) -> Iterator[None]:
        """Around a device access an instruction hook makes (a system-register timer access,
        a PSCI call): device timing, rechecks and failures use that instruction's icount."""
        self._access_icount = self.m.icount_at(self._position.pc)
        try:
            yield
        finally:
            self._access_icount = None
            self._follow_deadline()

    def _follow_deadline(self) -> None:
        """After a device access: a timer it armed stops the run at its deadline, which a
        run started earlier does not know. A deadline inside the accessing block (runs
        cannot stop there any more) takes effect at the block's end, in replay too."""
        due = self.board.deadline()
        if due is None:
            return
        end = self.m.counter.icount
        if due < end:
            self.deadline_floor = due = end
        if due < self.m.counter.limit:
            self.m.counter.limit = due

    def _deadline(self) -> int | None:
        due = self.board.deadline()
        if due is not None and self.deadline_floor is not None and due < self.deadline_floor:
            return self.deadline_floor
        return due

    # -- MMIO ---------------------------------------------------------------------------------

    def _mmio_read(self, uc: unicorn.Uc, offset: int, size: int, dev: Any) -> int:
        self._access_icount = self.m.icount_at(self._position.pc)
        try:
            return int(dev.read(offset, size)) & ((1 << (8 * size)) - 1)
        finally:
            self._access_icount = None

    def _mmio_write(self, uc: unicorn.Uc, offset: int, size: int, value: int, dev: Any) -> None:
        self._access_icount = self.m.icount_at(self._position.pc)
        try:
            dev.write(offset, size, value)
        finally:
            self._access_icount = None
            self._follow_deadline()

    def _recheck_at_block_end(self) -> None:
        """Recheck interrupts where the current translated block ends (the block counter has
        already counted it to its end)."""
        end = self.m.counter.icount
        if self.check_at is None or end < self.check_at:
            self.check_at = end
        if end < self.m.counter.limit:
            self.m.counter.limit = end

    def _unmapped(self, addr: int, size: int) -> bool:
        self._unmapped_access = (addr, size)
        return False

    def _on_fault(self, m: Machine, fault: Fault) -> None:
        """A CPU exception no trap entered: what the machine model does not cover."""
        pc = self._position.pc  # the faulting instruction (the CPU's pc may be stale)
        m.icount = m.icount_at(pc)
        where = f"at pc {pc:#x} (icount {m.icount})"
        machine = self.spec.name
        if self._unmapped_access is not None:
            addr, size = self._unmapped_access
            self._unmapped_access = None
            device = self.board.qemu_device(addr)
            what = (
                f"QEMU's {machine} has {device} there, which ttdbg does not model"
                if device is not None
                else f"no memory or modelled device there on machine {machine}"
            )
            access = fault.detail.split(" ")[0]
            self.error = FirmwareError(f"{access} of {size} bytes at {addr:#x} {where}: {what}")
        elif fault.detail.startswith("CPU exception"):
            self.error = FirmwareError(
                f"{fault.detail} {where}: this exception is not modelled on machine {machine}"
            )
        else:
            self.error = FirmwareError(f"{fault.detail} {where} on machine {machine}")

    def _trap(self, intno: int) -> bool:
        """Enter the firmware's handler for a synchronous exception. The trapping instruction
        counts as one: the handler's first instruction is the next position."""
        m = self.m
        pc = self._position.pc  # the trapping instruction (Unicorn may have moved past it)
        address = size = 0
        if intno in BUS_ERRORS:
            if self._unmapped_access is None:
                return False
            address, size = self._unmapped_access
            if self.board.qemu_device(address) is not None:
                return False  # a device QEMU has and ttdbg does not: stop, naming it
            if intno == BAD_FETCH and m.pc != address:
                return False  # (a block running on into unmapped memory: not modelled)
        fetch = intno == BAD_FETCH or intno in self.board.fetch_faults
        if fetch:
            pc = m.pc  # the address fetched: the branch before it retired
        before = m.icount if fetch else m.icount_at(pc)
        self._trap_at = pc
        saved = m.register_file.save()
        try:
            number = self.board.take_trap(m, Trap(intno, pc, address, size))
        finally:
            self._trap_at = None
        if number is None:
            return self.error is not None  # a guest fault stops the run; else not modelled
        if fetch and m.pc == pc:
            # The handler is the address that cannot be fetched: the CPU would take this
            # exception for ever. Stop in front of it instead.
            m.register_file.load(saved)
            m.icount = before
            self._unmapped_access = None
            self._stop_with_fault(
                SIGSEGV, pc, f"the exception vector {pc:#x} is not in memory (the fetch "
                "fault it raises enters it again, for ever)",
            )  # fmt: skip
            return True
        m.icount = before + 1
        self._unmapped_access = None
        return True

    def guest_fault(self, signal: int, detail: str) -> None:
        pc = self._trap_at if self._trap_at is not None else self._position.pc
        self.m.icount = self.m.icount_at(pc)
        self._stop_with_fault(signal, pc, detail)

    def _stop_with_fault(self, signal: int, pc: int, detail: str) -> None:
        """The guest faulted with nowhere to go: the run stops in front of `pc`."""
        self.error = GuestFault(
            f"guest fault at pc {pc:#x} (icount {self.m.icount}): {detail}", pc, signal, detail
        )
        self.m.request_stop()

    def _counter(self, counter: Any, icount: int, pc: int) -> int:
        """CPU counters (rdtime, rdcycle, rdinstret) from virtual time and the icount."""
        if counter.name == "TIME":
            return self.clock.ticks(icount, 10_000_000)
        return icount

    # -- instructions that wait or unmask (a BlockListener of the block counter) ---------------

    def learned(self, block: Block, code: bytes) -> None:
        unmasks, waits, answers = self.board.unmasks, self.board.waits, self.board.answers
        insns = list(self._cs.disasm_lite(code, block.addr))
        checked = set(self.board.checked(insns, code))  # tested for each instruction below
        for addr, size, mnem, ops in insns:
            if addr in self._hooked:
                continue
            if waits(mnem, ops):
                hook: Callable[..., None] = self._wait_hook
            elif unmasks(mnem, ops):
                hook = self._unmask_hook
            elif answers(mnem, ops):
                hook = self._answer_hook
            elif addr in checked:
                hook = self._check_hook
            else:
                continue
            self._hooked.add(addr)
            self.m.uc.hook_add(unicorn.UC_HOOK_CODE, hook, None, addr, addr)
            self.m.uc.ctl_remove_cache(addr, addr + size)

    def forgot(self) -> None:
        pass  # the hooks stay: they are keyed by address and still right for the same code

    def _runs(self, addr: int) -> bool:
        """From an instruction hook: the instruction at `addr` executes (a single-step run
        may stop in front of it after this hook was called)."""
        end = self.m.counter.steps_end
        return end is None or self.m.icount_at(addr) < end

    def _unmask_hook(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        # The instruction ends its block: recheck right after it, if anything is pending
        # (what it unmasks is then decided by the state after it).
        if self.board.any_pending() and self._runs(addr):
            self._recheck_at_block_end()

    def _check_hook(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        # A trap the board finds before the instruction runs is taken in its place.
        m = self.m
        trap = self.board.check(m, addr)
        if trap is None:
            return
        before = m.icount_at(addr)
        self._trap_at = addr
        try:
            number = self.board.take_trap(m, trap)
        finally:
            self._trap_at = None
        if number is None:
            if self.error is None:
                self.fail(f"CPU exception {trap.intno} at pc {addr:#x}: not modelled")
            return
        self._count_one(before)

    def _answer_hook(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        # The board performs the instruction; it retires here and the CPU goes on after it.
        with self.instruction_access():
            self.board.answer(self.m, addr)
        if self.error is None:
            self._retire(uc, addr, size)

    def _retire(self, uc: unicorn.Uc, addr: int, size: int) -> None:
        """From the hook in front of the instruction at `addr`: count it as retired and go
        on after it."""
        self._count_one(self.m.icount_at(addr))
        uc.reg_write(self._pc_id, (addr + size) | self.arch.start_bit)

    def _count_one(self, before: int) -> None:
        """From a hook in front of the instruction at icount `before`, which the emulator
        will not run: it counts as one (retired by the board, or trapping: a trap counts as
        one, as those the emulator raises), and the run stops right after it, so the count
        stays exact."""
        m = self.m
        m.icount = before + 1
        m.counter.limit = min(m.counter.limit, before + 1)

    def _wait_hook(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        if not self._runs(addr):
            return  # time skips when the wfi runs, once
        self._wait(self.m.icount_at(addr), f"wfi at pc {addr:#x}")
        # The wait is over: the instruction retires here, and the CPU goes on after it.
        self._retire(uc, addr, size)

    def wait_for_interrupt(self, what: str) -> None:
        self._wait(self.icount(), f"{what} at pc {self._position.pc:#x}")

    def _wait(self, here: int, what: str) -> None:
        """The instruction at icount `here` waits for an interrupt: unless one is pending,
        virtual time skips to the next deadline (recording: or input arrives first; replay:
        the log says which); interrupts are rechecked right after it."""
        m = self.m
        after = here + 1
        if not self.board.wakes(m):
            if self.inputs.replaying:
                ev = self.inputs.peek()
                input_next = ev is not None and ev.kind == EventKind.SERIAL and ev.icount == after
            else:
                # Input waiting for a full FIFO does not end the wait: time must go on.
                ports = self.board.serial
                input_next = bool(ports) and ports[0].rx_room() > 0 and self._wait_for_input(here)
                if input_next:
                    self.serial_due = after
            if not input_next and self.error is None:
                due = self._deadline()
                if due is None:
                    if not self.inputs.replaying and (
                        self.serial_in is None or self.serial_in.closed
                    ):
                        self.error = FirmwareError(
                            f"{what} (icount {here}) waits for an interrupt that cannot come: "
                            "no timer is armed and the serial input is closed"
                        )
                        m.request_stop()
                elif due > after:
                    self.clock.idle_ns += (due - after) << self.clock.shift
                # Input right after a wfi means the wfi did not skip time (replay decides
                # that from the log): input that comes now waits for the next poll.
                self._quiet_at = after
        if self.check_at is None or after < self.check_at:
            self.check_at = after

    def _wait_for_input(self, here: int) -> bool:
        """Recording, at a wfi nothing wakes: whether input is there (after waiting in real
        time as long as the next deadline is away, or until input comes when none is)."""
        source = self.serial_in
        if source is None:
            return False
        if source.available():
            return True
        due = self._deadline()
        while not source.closed and self.host_signal is None:
            if due is None:
                wait = MAX_IDLE_WAIT
            else:
                wait = min(MAX_IDLE_WAIT, (self.clock.ns(due) - self.clock.ns(here)) / 1e9)
            if source.wait(max(wait, 0.0)):
                return True
            if due is not None:
                return False
        if self.host_signal is not None:
            self.fail("interrupted")
        return False

    # -- asynchronous events ------------------------------------------------------------------

    def next_async(self) -> int | None:
        due = [d for d in (self.check_at, self._deadline(), self.serial_due) if d is not None]
        if self.inputs.replaying:
            ev = self.inputs.peek()
            if ev is not None and ev.kind == EventKind.SERIAL:
                due.append(ev.icount)
        elif self.serial_in is not None and not self.serial_in.closed:
            due.append(self._next_poll)
        return min(due) if due else None

    def deliver_async(self, icount: int) -> None:
        """Everything due at `icount`, then an interrupt if the CPU takes one."""
        if self.check_at is not None and self.check_at <= icount:
            self.check_at = None
        if self.serial_due is not None and self.serial_due <= icount:
            self.serial_due = None
        self._serial(icount)
        due = self._deadline()
        if due is not None and due <= icount:
            self.deadline_floor = None
            self.board.at_deadline()
        number = self.board.take_interrupt(self.m)
        if number is not None:
            self.last_interrupt = EnteredInterrupt(icount, number)
            if self.entered is not None:
                self.entered(self.last_interrupt)

    def settle(self) -> None:
        """At the end of a run: what is due at this icount happens now, so the state at an
        icount is the same however a run got there."""
        due = self.next_async()
        if due is not None and due <= self.m.icount and self.m.halted is None:
            self.deliver_async(self.m.icount)

    def _serial(self, icount: int) -> None:
        port = self.board.serial[0] if self.board.serial else None
        if port is None:
            return

        def choose() -> Event | None:
            self._next_poll = icount + POLL_EVERY
            if icount == self._quiet_at:
                return None
            if self.host_signal is not None and self.error is None:
                self.fail("interrupted")
            source = self.serial_in
            room = port.rx_room()
            if source is None or room <= 0 or not source.available():
                return None
            return Event(EventKind.SERIAL, icount, (0,), 0, source.take(room))

        try:
            ev = self.inputs.decide(EventKind.SERIAL, icount, choose)
        except DivergenceError as err:
            self._diverged(err)
            return
        if ev is not None:
            if len(ev.payload) > port.rx_room() or ev.args != (0,):
                self._diverged(DivergenceError(icount, "serial input the FIFO can take", repr(ev)))
                return
            port.receive(ev.payload)

    def _diverged(self, err: DivergenceError) -> None:
        self.error = err
        self.m.request_stop()

    # -- state --------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        last = self.last_interrupt
        return {
            "version": FIRMWARE_PLATFORM_VERSION,
            "devices": self.board.state(),
            "idle_ns": self.clock.idle_ns,
            "check_at": self.check_at,
            "deadline_floor": self.deadline_floor,
            "last_interrupt": None if last is None else [last.icount, last.number],
            "exit_status": self.exit_status,
        }

    def reset(self, exit_outcome: tuple[int | None, int | None]) -> None:
        """After a restore: nothing left of the last run (its error, the end of the log);
        `exit_outcome` is the guest's (status, signal) if the state is past its end."""
        self.error = self.end_of_log = None
        self.exit_status, self.exit_signal = exit_outcome

    def load_state(self, state: dict[str, Any]) -> None:
        if state["version"] != FIRMWARE_PLATFORM_VERSION:
            raise ValueError(f"firmware platform state version {state['version']}")
        self.board.load(state["devices"])
        self.clock.idle_ns = int(state["idle_ns"])
        check = state["check_at"]
        self.check_at = None if check is None else int(check)
        floor = state.get("deadline_floor")
        self.deadline_floor = None if floor is None else int(floor)
        last = state["last_interrupt"]
        self.last_interrupt = None if last is None else EnteredInterrupt(int(last[0]), int(last[1]))
        status = state["exit_status"]
        self.exit_status = None if status is None else int(status)
        self.serial_due = None

    # -- what front-ends show -----------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Virtual time, pending interrupts and the last one entered, for `monitor info replay`."""
        last = self.last_interrupt
        return {
            "machine": self.spec.name,
            "virtual_ns": self.clock.ns(self.m.icount),
            "icount_shift": self.spec.icount_shift,
            "pending": self.board.pending(),
            "last_interrupt": None
            if last is None
            else (last.icount, self.board.interrupt_name(last.number)),
        }


def stdout_console(fd: int, data: bytes) -> None:
    """Serial output to this process's stdout, as the guest writes it."""
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
