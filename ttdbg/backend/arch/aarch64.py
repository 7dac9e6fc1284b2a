"""The AArch64 guest: registers (gdb's aarch64 core and fpu features), syscalls, CPU model."""

from __future__ import annotations

import capstone
import unicorn
from unicorn import arm64_const as a

from .base import Arch, GdbRegister, Register, ReservationProbe, SyscallAbi
from .counters import A64_COUNTER_PATTERNS, Counter, aarch64_counter_reads
from .generic_syscalls import GENERIC_SYSCALLS

_BASE_NAMES = (*(f"x{i}" for i in range(31)), "sp")  # a base register's number 31 is sp
_CORE, _FPU = "org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.fpu"

REGISTERS: tuple[Register, ...] = (
    *(Register(f"x{i}", a.UC_ARM64_REG_X0 + i, 8) for i in range(29)),
    Register("x29", a.UC_ARM64_REG_X29, 8),
    Register("x30", a.UC_ARM64_REG_X30, 8),
    Register("sp", a.UC_ARM64_REG_SP, 8),
    Register("pc", a.UC_ARM64_REG_PC, 8),
    Register("cpsr", a.UC_ARM64_REG_NZCV, 4),
    *(Register(f"v{i}", a.UC_ARM64_REG_V0 + i, 16) for i in range(32)),
    Register("fpsr", a.UC_ARM64_REG_FPSR, 4),
    Register("fpcr", a.UC_ARM64_REG_FPCR, 4),
    Register("tpidr_el0", a.UC_ARM64_REG_TPIDR_EL0, 8),
)

GDB_REGISTERS: tuple[GdbRegister, ...] = (
    *(GdbRegister(f"x{i}", 64, "int", _CORE, f"x{i}") for i in range(31)),
    GdbRegister("sp", 64, "data_ptr", _CORE, "sp"),
    GdbRegister("pc", 64, "code_ptr", _CORE, "pc"),
    GdbRegister("cpsr", 32, "int", _CORE, "cpsr"),
    *(GdbRegister(f"v{i}", 128, "aarch64v", _FPU, f"v{i}") for i in range(32)),
    GdbRegister("fpsr", 32, "int", _FPU, "fpsr"),
    GdbRegister("fpcr", 32, "int", _FPU, "fpcr"),
)

_VREG = (
    '<vector id="v2d" type="ieee_double" count="2"/>'
    '<vector id="v2u" type="uint64" count="2"/><vector id="v2i" type="int64" count="2"/>'
    '<vector id="v4f" type="ieee_single" count="4"/>'
    '<vector id="v4u" type="uint32" count="4"/><vector id="v4i" type="int32" count="4"/>'
    '<vector id="v8u" type="uint16" count="8"/><vector id="v8i" type="int16" count="8"/>'
    '<vector id="v16u" type="uint8" count="16"/><vector id="v16i" type="int8" count="16"/>'
    '<vector id="v1u" type="uint128" count="1"/><vector id="v1i" type="int128" count="1"/>'
    '<union id="vnd"><field name="f" type="v2d"/><field name="u" type="v2u"/>'
    '<field name="s" type="v2i"/></union>'
    '<union id="vns"><field name="f" type="v4f"/><field name="u" type="v4u"/>'
    '<field name="s" type="v4i"/></union>'
    '<union id="vnh"><field name="u" type="v8u"/><field name="s" type="v8i"/></union>'
    '<union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>'
    '<union id="vnq"><field name="u" type="v1u"/><field name="s" type="v1i"/></union>'
    '<union id="aarch64v"><field name="d" type="vnd"/><field name="s" type="vns"/>'
    '<field name="h" type="vnh"/><field name="b" type="vnb"/><field name="q" type="vnq"/></union>'
)

ARCH = Arch(
    name="aarch64",
    elf_machine="EM_AARCH64",
    elf_class=64,
    uc_arch=unicorn.UC_ARCH_ARM64,
    uc_mode=unicorn.UC_MODE_ARM,
    cpu_model=a.UC_CPU_ARM64_A72,
    cs_arch=capstone.CS_ARCH_ARM64,
    cs_mode=capstone.CS_MODE_ARM,
    registers=REGISTERS,
    pc="pc",
    sp="sp",
    syscall_abi=SyscallAbi("x8", ("x0", "x1", "x2", "x3", "x4", "x5"), "x0"),
    syscall_numbers=GENERIC_SYSCALLS,
    platform="aarch64",
    hwcap=0x3,  # HWCAP_FP | HWCAP_ASIMD; no HWCAP_CPUID, so glibc does not read MIDR_EL1
    hwcap2=0,
    stack_top=0xFFFFFFFFF000,
    pie_base=0xAAAAAAAA0000,
    mmap_base=0xFFFFF7FFF000,
    gdb_architecture="aarch64",
    gdb_registers=GDB_REGISTERS,
    gdb_expedite=("x29", "sp", "pc"),
    gdb_feature_types={_FPU: _VREG},
    # fpsimd_flush_thread clears the FP state at exec: round to nearest, no traps, no flags.
    initial_registers={"fpcr": 0, "fpsr": 0},
    syscall_interrupt=2,  # EXCP_SWI
    # 62.5 MHz: the CNTFRQ_EL0 Unicorn's Cortex-A72 (and qemu-user) reports.
    counter_hz={Counter.CNTVCT: 62_500_000},
    counter_reads=aarch64_counter_reads,
    counter_patterns=A64_COUNTER_PATTERNS,
    # Linux enables EL0 access to the virtual counter only (CNTKCTL_EL1.EL0VCTEN).
    counter_faults=frozenset({Counter.CNTPCT}),
    watchpoints_steppable=False,
    stat_layout="generic",
    breakpoint_kinds=frozenset({4}),
    # UDEF, BKPT, PREFETCH_ABORT, DATA_ABORT (the emulator raises it for alignment faults
    # only: its unmapped and protected accesses come through the memory hooks)
    interrupt_signals={1: 4, 7: 5, 3: 11, 4: 7},
    # ILL_ILLOPC, TRAP_BRKPT at the pc; BUS_ADRALN at the address accessed
    interrupt_siginfo={1: (1, True), 7: (1, True), 4: (1, False)},
    interrupt_access_faults=frozenset({4}),
    insn_alignment=4,  # the emulator reports a misaligned pc as an undefined instruction
    # Exclusives, acquire/release and atomics address memory by [Xn|SP] alone (bits 5-9).
    access_address_register=lambda word: _BASE_NAMES[(word >> 5) & 31],
    is_call=lambda m, ops: m in ("bl", "blr"),
    is_return=lambda m, ops: m == "ret",
    display_registers=(
        *(f"x{i}" for i in range(31)),
        "sp",
        "pc",
        "cpsr",
        "tpidr_el0",
        "fpsr",
        "v0",
        "v1",
    ),
    tls_register="tpidr_el0",
    # QEMU's exclusive_addr / exclusive_val / exclusive_high: ldxp x1,x2,[x0];
    # stxp w3,x1,x2,[x0].
    reservation=ReservationProbe(
        load=(0xC87F0801).to_bytes(4, "little"),
        store=(0xC8230801).to_bytes(4, "little"),
        address="x0",
        loaded=("x1", "x2"),
        status="x3",
        fields=("addr", "val", "high"),
    ),
)
