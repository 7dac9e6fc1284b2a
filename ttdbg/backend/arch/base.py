"""The description every guest architecture module provides: registers, ABI, CPU set-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .counters import CodePattern, Counter, CounterRead


@dataclass(frozen=True)
class Register:
    """One guest register: how Unicorn names it and how wide it is (snapshots keep them all;
    gdb's view of them is `GdbRegister`)."""

    name: str
    uc_id: int
    size: int
    kind: str = "int"  # "int", or "x87" for the 80-bit registers Unicorn hands out as tuples
    # A system register Unicorn reaches only by its encoding (AArch64 (crn, crm, op0, op1,
    # op2) through UC_ARM64_REG_CP_REG): read and written one by one, after the others.
    cp: tuple[int, int, int, int, int] | None = None


@dataclass(frozen=True)
class GdbRegister:
    """One register as gdb's g packet and target.xml see it.

    `source` names a register of the architecture's table; `compute`, when set, derives the
    value from all of them (x87 st0-7 from the physical registers and TOP). A register with
    neither is reported unavailable.
    """

    name: str
    bitsize: int
    type: str
    feature: str
    source: str | None = None
    compute: Callable[[dict[str, int]], int] | None = None
    group: str | None = None

    @property
    def size(self) -> int:
        return self.bitsize // 8


@dataclass(frozen=True)
class SyscallAbi:
    """Where a Linux syscall finds its number and arguments, and where its result goes."""

    number: str
    args: tuple[str, ...]
    result: str


@dataclass(frozen=True)
class ReservationProbe:
    """Instructions that find where Unicorn keeps the CPU's load reservation (exclusive
    monitor), which it exposes as no register: `load` reserves the address in register
    `address` and loads the words there (lr.d; ldxp), `store` is the matching
    store-conditional, writing 0 to register `status` when it stores. `fields` names the
    saved values in the order the words sit in memory, after the reserved address."""

    load: bytes
    store: bytes
    address: str
    loaded: tuple[str, ...]  # the registers `load` writes (cleared before the context is read)
    status: str
    fields: tuple[str, ...]
    width: int = 8  # bytes `load` reads into each field


@dataclass(frozen=True)
class Arch:
    """Everything that differs between guest architectures, as data."""

    name: str
    elf_machine: str
    elf_class: int
    uc_arch: int
    uc_mode: int
    cpu_model: int
    cs_arch: int
    cs_mode: int
    registers: tuple[Register, ...]
    pc: str
    sp: str
    syscall_abi: SyscallAbi
    syscall_numbers: dict[str, int]
    platform: str
    hwcap: int
    hwcap2: int
    stack_top: int
    pie_base: int
    mmap_base: int
    gdb_architecture: str
    gdb_registers: tuple[GdbRegister, ...]
    gdb_feature_types: dict[str, str]  # feature name -> XML type definitions it needs
    # gdb registers every stop reply carries (gdbserver's expedite list), so gdb needs no
    # `g` round trip to find the frame after a step.
    gdb_expedite: tuple[str, ...] = ()
    setup: Callable[[Any], None] = field(default=lambda uc: None)
    # What Linux sets at exec besides the zeroed general registers: the ABI's floating-point
    # control and status values (Unicorn's reset leaves some of them 0). Applied after `setup`.
    initial_registers: dict[str, int] = field(default_factory=dict)
    # What Linux resets when it enters a signal handler (x86-64 hands every handler a fresh
    # FPU state; the interrupted one is in the frame and comes back with rt_sigreturn).
    signal_entry_registers: dict[str, int] = field(default_factory=dict)
    # Syscalls arrive as this CPU exception, the pc then already past the trap instruction;
    # or (x86-64) through a hook on this Unicorn instruction id, the pc still on it.
    syscall_interrupt: int | None = None
    syscall_insn: int | None = None
    syscall_insn_size: int = 4  # svc, ecall; x86-64's syscall is 2
    # gdb's have_nonsteppable_watchpoint is 0 (x86-64: stop after the access) or 1 (AArch64,
    # RISC-V: stop before it going forwards, after it going backwards).
    watchpoints_steppable: bool = True
    stat_layout: str = "x86_64"
    # What gdb may name: addresses below 2**address_bits, breakpoint kinds (instruction
    # lengths) of this set.
    address_bits: int = 64
    breakpoint_kinds: frozenset[int] = frozenset({1})
    # Other CPU exceptions, as the signal Linux would send (anything else: SIGILL).
    interrupt_signals: dict[int, int] = field(default_factory=dict)
    unknown_interrupt_signal: int = 4  # SIGILL
    # The siginfo Linux gives for some of them: (si_code, whether si_addr is the faulting
    # instruction's address; else 0). Others: SI_KERNEL and 0.
    interrupt_siginfo: dict[int, tuple[int, bool]] = field(default_factory=dict)
    # Exceptions whose si_addr is the address accessed (misaligned exclusive or atomic
    # accesses, which take it from one register with no offset): the register holding it,
    # from the instruction's encoding (a little-endian 32-bit word).
    interrupt_access_faults: frozenset[int] = frozenset()
    # Data addresses must sign-extend this many bits (x86-64's 48): an access elsewhere is a
    # general protection fault, SIGSEGV with SI_KERNEL and no address, not a page fault.
    canonical_bits: int = 0
    # Instructions' alignment: a jump elsewhere faults with SIGBUS BUS_ADRALN at the target.
    insn_alignment: int = 1
    access_address_register: Callable[[int], str] = field(default=lambda word: "")
    # How far past the faulting instruction the emulator leaves pc for an exception (RISC-V's
    # illegal instruction: 4, whatever the instruction's length).
    interrupt_pc_past: dict[int, int] = field(default_factory=dict)
    # si_code of SIGILL for an instruction the emulator cannot decode.
    illegal_code: int = 1  # ILL_ILLOPC
    # Breakpoint instructions the emulator reports as undecodable (their encodings as
    # little-endian integers): Linux sends SIGTRAP for them, not SIGILL.
    breakpoint_encodings: frozenset[int] = frozenset()
    sigaction_has_restorer: bool = True
    # Instruction classes for step over and finish, from capstone's mnemonic and operands.
    is_call: Callable[[str, str], bool] = field(default=lambda m, ops: m.startswith("call"))
    is_return: Callable[[str, str], bool] = field(default=lambda m, ops: m.startswith("ret"))
    # CPU time counters read without a syscall: their rate while recording (ticks per second),
    # and how to find the reads (in a learned block; or, when Unicorn traps them as illegal
    # instructions with this exception number, from the trapping instruction word).
    counter_hz: dict[Counter, int] = field(default_factory=dict)
    counter_reads: Callable[[int, bytes, tuple[int, ...]], list[CounterRead]] | None = None
    # Bytes every read counter_reads finds matches (a superset): blocks without them are
    # learned natively. Empty: every block is learned in Python, where counter_reads sees it.
    counter_patterns: tuple[CodePattern, ...] = ()
    counter_trap: Callable[[int, int], CounterRead | None] | None = None
    counter_trap_interrupt: int | None = None
    # Counters Linux keeps from user space: reading one is SIGILL, as there.
    counter_faults: frozenset[Counter] = frozenset()
    # What the registers pane lists (empty: every register of 8 bytes or less).
    display_registers: tuple[str, ...] = ()
    # Threads: the register clone(CLONE_SETTLS) sets, and where clone() takes the TLS and
    # child-tid arguments (x86-64 swaps them relative to the generic order).
    # Added to the pc where emulation starts: 1 on Thumb-only CPUs (Cortex-M), where Unicorn
    # takes the instruction set from bit 0 of the start address.
    start_bit: int = 0
    tls_register: str = ""
    # The load reservation snapshots keep (None: the architecture has none, or ttdbg does
    # not carry it).
    reservation: ReservationProbe | None = None
    clone_tls_arg: int = 3
    clone_ctid_arg: int = 4

    def register(self, name: str) -> Register:
        """The register called `name`; KeyError when the architecture has none."""
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(name)

    def gdb_register_number(self, name: str) -> int:
        """The number of gdb register `name` (its place in the g packet)."""
        return next(i for i, reg in enumerate(self.gdb_registers) if reg.name == name)

    def target_xml(self) -> str:
        """The target description gdb reads with qXfer:features:read:target.xml."""
        parts = [
            '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">',
            f"<target><architecture>{self.gdb_architecture}</architecture>",
        ]
        feature = None
        for num, reg in enumerate(self.gdb_registers):
            if reg.feature != feature:
                if feature is not None:
                    parts.append("</feature>")
                feature = reg.feature
                parts.append(f'<feature name="{feature}">')
                parts.append(self.gdb_feature_types.get(feature, ""))
            group = f' group="{reg.group}"' if reg.group else ""
            parts.append(
                f'<reg name="{reg.name}" bitsize="{reg.bitsize}" type="{reg.type}"'
                f' regnum="{num}"{group}/>'
            )
        parts.append("</feature></target>")
        return "".join(parts)

    @property
    def syscall_names(self) -> dict[int, str]:
        """Syscall number to name, the inverse of `syscall_numbers`."""
        return {nr: name for name, nr in self.syscall_numbers.items()}
