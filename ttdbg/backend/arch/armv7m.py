"""The ARMv7-M (Cortex-M3) guest: registers, gdb's m-profile target description, CPU model.

Firmware only: there is no Linux ABI (the syscall fields are empty), and the architecture is
not found by ELF machine, so a Linux recording never picks it.
"""

from __future__ import annotations

import capstone
import unicorn
from unicorn import arm_const as a

from .base import Arch, GdbRegister, Register, ReservationProbe, SyscallAbi

_CORE, _SYSTEM = "org.gnu.gdb.arm.m-profile", "org.gnu.gdb.arm.m-system"

REGISTERS: tuple[Register, ...] = (
    *(Register(f"r{i}", a.UC_ARM_REG_R0 + i, 4) for i in range(13)),
    Register("sp", a.UC_ARM_REG_SP, 4),
    Register("lr", a.UC_ARM_REG_LR, 4),
    Register("pc", a.UC_ARM_REG_PC, 4),
    Register("xpsr", a.UC_ARM_REG_XPSR, 4),
    Register("msp", a.UC_ARM_REG_MSP, 4),
    Register("psp", a.UC_ARM_REG_PSP, 4),
    Register("primask", a.UC_ARM_REG_PRIMASK, 4),
    Register("basepri", a.UC_ARM_REG_BASEPRI, 4),
    Register("faultmask", a.UC_ARM_REG_FAULTMASK, 4),
    Register("control", a.UC_ARM_REG_CONTROL, 4),
)

GDB_REGISTERS: tuple[GdbRegister, ...] = (
    *(GdbRegister(f"r{i}", 32, "uint32", _CORE, f"r{i}") for i in range(13)),
    GdbRegister("sp", 32, "data_ptr", _CORE, "sp"),
    GdbRegister("lr", 32, "int", _CORE, "lr"),
    GdbRegister("pc", 32, "code_ptr", _CORE, "pc"),
    GdbRegister("xpsr", 32, "int", _CORE, "xpsr"),
    GdbRegister("msp", 32, "data_ptr", _SYSTEM, "msp", group="system"),
    GdbRegister("psp", 32, "data_ptr", _SYSTEM, "psp", group="system"),
    GdbRegister("primask", 32, "int", _SYSTEM, "primask", group="system"),
    GdbRegister("basepri", 32, "int", _SYSTEM, "basepri", group="system"),
    GdbRegister("faultmask", 32, "int", _SYSTEM, "faultmask", group="system"),
    GdbRegister("control", 32, "int", _SYSTEM, "control", group="system"),
)

_CALLS = frozenset({"bl", "blx"})

ARCH = Arch(
    name="armv7m",
    elf_machine="EM_ARM",
    elf_class=32,
    uc_arch=unicorn.UC_ARCH_ARM,
    uc_mode=unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS,
    cpu_model=a.UC_CPU_ARM_CORTEX_M3,
    cs_arch=capstone.CS_ARCH_ARM,
    cs_mode=capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS,
    registers=REGISTERS,
    pc="pc",
    sp="sp",
    syscall_abi=SyscallAbi("r7", (), "r0"),  # unused: no operating system
    syscall_numbers={},
    platform="armv7m",
    hwcap=0,
    hwcap2=0,
    stack_top=0,
    pie_base=0,
    mmap_base=0,
    gdb_architecture="arm",
    gdb_registers=GDB_REGISTERS,
    gdb_feature_types={},
    # Exception return (a branch to EXC_RETURN) arrives as this CPU exception
    # (EXCP_EXCEPTION_EXIT); the board performs it, as the syscall handler.
    syscall_interrupt=8,
    watchpoints_steppable=False,  # gdb's arm: have_nonsteppable_watchpoint
    stat_layout="generic",
    address_bits=32,
    breakpoint_kinds=frozenset({2, 3, 4}),  # Thumb, Thumb-2 (gdb's kinds for arm)
    is_call=lambda m, ops: m in _CALLS,
    is_return=lambda m, ops: (m == "bx" and ops == "lr") or (m.startswith("pop") and "pc" in ops),
    display_registers=tuple(r.name for r in REGISTERS),
    start_bit=1,
    # QEMU's exclusive_addr / exclusive_val: ldrex r1,[r0]; strex r2,r1,[r0].
    reservation=ReservationProbe(
        load=bytes.fromhex("50e8001f"),
        store=bytes.fromhex("40e80012"),
        address="r0",
        loaded=("r1",),
        status="r2",
        fields=("addr", "val"),
        width=4,
    ),
)
