"""Bare Unicorn running a firmware sample: the yardstick fw_record_ratio divides by.

The board's memory, its devices as MMIO callbacks, and from the CPU side only what the sample
needs to take the path the recording took: interrupts entered when a timer deadline comes,
after an instruction that unmasks one, or after a device access that raised one; `wfi`
skipping virtual time to the next deadline. Instructions are counted by one native hook on
every instruction (Unicorn's own `count=` does the same, but cannot be read when a run ends
early, at a `wfi`). No block table, snapshots, event log or trap checks (the sample never
traps with its input closed): `BareRun.entries` lists the interrupts entered, so the caller
can check them against the recording's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import capstone
import unicorn
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ttdbg.backend.icount import NO_LIMIT
from ttdbg.backend.loader import parse_program
from ttdbg.backend.machine import Fault, Machine
from ttdbg.backend.machines import MachineSpec, board_class
from ttdbg.backend.machines.board import Board, Device
from ttdbg.backend.machines.clock import ClockReadings, VirtualClock

# ELF mapping symbols that start code ($x may carry an ISA string: $xrv64i2p1...); $d data.
CODE_MAPPING = ("$a", "$t", "$x")


class BareStop(Exception):
    """The bare loop cannot follow the firmware further (a device refused an access, the
    machine powered off, a wfi nothing can wake, a CPU exception)."""


@dataclass(frozen=True)
class BareRun:
    """What a bare run did: CPU seconds (all, and setting up: memory, devices, the ELF,
    finding the hook sites), instructions, interrupts entered (icount, number), the
    registers at the end."""

    cpu_s: float
    setup_s: float
    insns: int
    entries: list[tuple[int, int]]
    registers: dict[str, int]


class BareBus(ClockReadings):
    """The machine as the board's devices see it: the icount is the count of the native
    hook, interrupts are rechecked after the accessing instruction, failures stop the run."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.base = 0  # the icount the current emulator run started at
        self.running = False  # inside a run: the current instruction is counted already
        self.check = False  # the run stopped where an interrupt may be entered
        self.error: str | None = None
        self.board: Board | None = None
        self.m: Machine | None = None

    def _machine(self) -> Machine:
        assert self.m is not None
        return self.m

    def icount(self) -> int:
        steps = self._machine().counter.steps
        return self.base + steps - 1 if self.running else self.base + steps

    def stop_after_this(self) -> None:
        """Stop the run in front of the next instruction and check for interrupts there."""
        counter = self._machine().counter
        counter.step_limit = min(counter.step_limit, counter.steps)
        self.check = True

    def interrupts_changed(self) -> None:
        assert self.board is not None
        if self.running and self.board.wakes(self._machine()):
            self.stop_after_this()

    def wait_for_interrupt(self, what: str) -> None:
        """As the recording's wfi: unless an interrupt is pending, virtual time skips to the
        next deadline; the run stops after the waiting instruction."""
        assert self.board is not None
        after = self.icount() + 1
        if not self.board.wakes(self._machine()):
            due = self.board.deadline()
            if due is None:
                self.fail(f"{what} waits for ever (no timer armed, no input)")
                return
            if due > after:
                self.clock.idle_ns += (due - after) << self.clock.shift
        self.stop_after_this()

    def output(self, port: int, data: bytes) -> None:
        pass  # the console's work is the recording's own

    def finish(self, status: int, why: str) -> None:
        self._stop(f"the machine powered off ({why})")

    def fail(self, message: str) -> None:
        self._stop(message)

    def guest_fault(self, signal: int, detail: str) -> None:
        self._stop(f"guest fault: {detail}")

    def _stop(self, message: str) -> None:
        self.error = message
        self._machine().uc.emu_stop()

    @contextmanager
    def instruction_access(self) -> Iterator[None]:
        yield
        self.follow_deadline()

    def follow_deadline(self) -> None:
        """After a device access: a deadline it armed stops the run there (after this
        instruction at the earliest)."""
        assert self.board is not None
        due = self.board.deadline()
        if due is not None and self.running:
            counter = self._machine().counter
            counter.step_limit = min(counter.step_limit, max(due - self.base, counter.steps))


def code_sites(elf: Path, cs_arch: int, cs_mode: int) -> list[tuple[int, int, str, str]]:
    """Every instruction (address, size, mnemonic, operands) of the ELF's executable
    sections, skipping data the ELF's mapping symbols ($d) mark."""
    with open(elf, "rb") as f:
        image = ELFFile(f)
        marks: list[tuple[int, bool]] = []
        symtab = image.get_section_by_name(".symtab")
        if isinstance(symtab, SymbolTableSection):
            for sym in symtab.iter_symbols():
                if sym.name.startswith("$") and sym["st_info"]["type"] == "STT_NOTYPE":
                    marks.append((int(sym["st_value"]), sym.name[:2] in CODE_MAPPING))
        sections = [
            (int(s["sh_addr"]), s.data())
            for s in image.iter_sections()
            if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
        ]
    marks.sort()
    cs = capstone.Cs(cs_arch, cs_mode)
    cs.skipdata = True
    out = []
    for base, data in sections:
        end = base + len(data)
        inside = [(a, code) for a, code in marks if base <= a < end]
        if not inside or inside[0][0] != base:
            inside.insert(0, (base, not marks))  # no mapping symbols: all code
        bounds = [a for a, _code in inside[1:]] + [end]
        for (start, code), stop in zip(inside, bounds, strict=True):
            if code:
                chunk = data[start - base : stop - base]
                out.extend(cs.disasm_lite(chunk, start))
    return out


def bare_run(elf: Path, spec: MachineSpec, insns: int) -> BareRun:
    """Run `elf` on `spec`'s board in bare Unicorn for exactly `insns` instructions (the
    CPU time counts setting up too, as the recording's does)."""
    start = time.process_time()
    clock = VirtualClock(spec.icount_shift)
    bus = BareBus(clock)
    board = board_class(spec.name, spec.arch)(bus, spec.cpu)
    m = Machine(board.arch)
    bus.board, bus.m = board, m
    uc, counter, arch = m.uc, m.counter, m.arch
    counter.count_every_instruction()  # first: it stops a run before other hooks act
    program = parse_program(elf.read_bytes(), str(elf))
    for region in board.memory:
        uc.mem_map(region.base, region.size, region.perms)
    for seg in program.all_segments:
        m.write(seg.paddr, seg.data)

    def mmio_read(_uc: unicorn.Uc, offset: int, size: int, dev: Any) -> int:
        return int(dev.read(offset, size)) & ((1 << (8 * size)) - 1)

    def mmio_write(_uc: unicorn.Uc, offset: int, size: int, value: int, dev: Any) -> None:
        dev.write(offset, size, value)

    def timer_write(_uc: unicorn.Uc, offset: int, size: int, value: int, dev: Any) -> None:
        dev.write(offset, size, value)
        bus.follow_deadline()  # the write may have armed the timer

    for dev in board.devices:
        timed = type(dev).deadline is not Device.deadline
        write = timer_write if timed else mmio_write
        uc.mmio_map(dev.base, -(-dev.size // 0x1000) * 0x1000, mmio_read, dev, write, dev)
    arch.setup(uc)
    board.reset(m, program)

    def on_fault(_m: Machine, fault: Fault) -> None:
        bus.error = f"{fault.detail} at pc {fault.pc:#x}"

    m.on_fault = on_fault
    pc_id = arch.register(arch.pc).uc_id

    def wait(uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        bus.wait_for_interrupt(f"wfi at pc {addr:#x}")
        uc.reg_write(pc_id, (addr + size) | arch.start_bit)  # the wfi retires

    def unmask(_uc: unicorn.Uc, _addr: int, _size: int, _data: object) -> None:
        if board.any_pending():
            bus.stop_after_this()

    def answer(uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        with bus.instruction_access():
            board.answer(m, addr)
        counter.step_limit = min(counter.step_limit, counter.steps)
        uc.reg_write(pc_id, (addr + size) | arch.start_bit)

    for addr, _size, mnem, ops in code_sites(elf, arch.cs_arch, arch.cs_mode):
        if board.waits(mnem, ops):
            hook: Any = wait
        elif board.unmasks(mnem, ops):
            hook = unmask
        elif board.answers(mnem, ops):
            hook = answer
        else:
            continue
        uc.hook_add(unicorn.UC_HOOK_CODE, hook, None, addr, addr)

    entries: list[tuple[int, int]] = []
    icount = 0
    setup_s = time.process_time() - start
    while True:
        # What is due here happens before the run goes on (at the end too, as the
        # recording settles its last position).
        due = board.deadline()
        if due is not None and due <= icount:
            board.at_deadline()
            due, bus.check = board.deadline(), True
        if bus.check:
            bus.check = False
            number = board.take_interrupt(m)
            if number is not None:
                entries.append((icount, number))
        if icount >= insns:
            break
        counter.steps = 0
        counter.step_limit = (insns if due is None else min(insns, due)) - icount
        bus.base, bus.running = icount, True
        try:
            uc.emu_start(m.pc | arch.start_bit, 0)
        except unicorn.UcError as err:
            bus.error = f"emulator error {err} at pc {m.pc:#x}"
        bus.running = False
        icount += counter.steps
        counter.step_limit = NO_LIMIT
        if bus.error is not None:
            raise BareStop(f"{bus.error} (icount {icount})")
    cpu_s = time.process_time() - start
    return BareRun(cpu_s, setup_s, icount, entries, m.registers())
