"""The RISC-V 64 guest: registers (gdb's riscv cpu and fpu features), syscalls, CPU model."""

from __future__ import annotations

from typing import Any

import capstone
import unicorn
from unicorn import riscv_const as r

from .base import Arch, GdbRegister, Register, ReservationProbe, SyscallAbi
from .counters import (
    RV_COUNTER_PATTERNS,
    Counter,
    CounterRead,
    riscv_counter_read,
    riscv_counter_reads,
)
from .generic_syscalls import GENERIC_SYSCALLS

_CPU, _FPU = "org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu"
ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)  # fmt: skip
FP_NAMES = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
)  # fmt: skip

REGISTERS: tuple[Register, ...] = (
    *(Register(name, r.UC_RISCV_REG_X0 + i, 8) for i, name in enumerate(ABI_NAMES) if i),
    Register("pc", r.UC_RISCV_REG_PC, 8),
    *(Register(name, r.UC_RISCV_REG_F0 + i, 8) for i, name in enumerate(FP_NAMES)),
    Register("fcsr", r.UC_RISCV_REG_FCSR, 4),
)


def _zero(regs: dict[str, int]) -> int:
    return 0


GDB_REGISTERS: tuple[GdbRegister, ...] = (
    GdbRegister("zero", 64, "int", _CPU, compute=_zero),
    *(
        GdbRegister(name, 64, {"ra": "code_ptr", "sp": "data_ptr"}.get(name, "int"), _CPU, name)
        for name in ABI_NAMES[1:]
    ),
    GdbRegister("pc", 64, "code_ptr", _CPU, "pc"),
    *(GdbRegister(name, 64, "ieee_double", _FPU, name) for name in FP_NAMES),
    GdbRegister("fflags", 32, "int", _FPU, compute=lambda regs: regs["fcsr"] & 0x1F),
    GdbRegister("frm", 32, "int", _FPU, compute=lambda regs: (regs["fcsr"] >> 5) & 7),
    GdbRegister("fcsr", 32, "int", _FPU, "fcsr"),
)


def _is_call(mnem: str, ops: str) -> bool:
    # jal/jalr that link through ra (capstone leaves rd out when it is ra).
    return mnem in ("jal", "jalr", "c.jal", "c.jalr") and not ops.startswith("zero")


def _is_return(mnem: str, ops: str) -> bool:
    return (
        mnem == "ret"
        or (mnem in ("c.jr", "jr") and ops == "ra")
        or (mnem == "jalr" and ops.startswith("zero") and "(ra)" in ops)
    )


_MSTATUS_FS, _FS_INITIAL = 0x6000, 0x2000


def _enable_fpu(uc: Any) -> None:
    # Unicorn starts with mstatus.FS off, which makes every FP instruction (and fcsr) trap;
    # Linux's start_thread sets FS to Initial, and the first FP write makes it Dirty.
    status = uc.reg_read(r.UC_RISCV_REG_MSTATUS) & ~_MSTATUS_FS
    uc.reg_write(r.UC_RISCV_REG_MSTATUS, status | _FS_INITIAL)


def _counter_reads(addr: int, code: bytes, insns: tuple[int, ...]) -> list[CounterRead]:
    return riscv_counter_reads(addr, code, insns, ABI_NAMES)


def _counter_trap(addr: int, word: int) -> CounterRead | None:
    return riscv_counter_read(addr, word, ABI_NAMES)


ARCH = Arch(
    name="riscv64",
    elf_machine="EM_RISCV",
    elf_class=64,
    uc_arch=unicorn.UC_ARCH_RISCV,
    uc_mode=unicorn.UC_MODE_RISCV64,
    cpu_model=r.UC_CPU_RISCV64_SIFIVE_U54,
    cs_arch=capstone.CS_ARCH_RISCV,
    cs_mode=capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC,
    registers=REGISTERS,
    pc="pc",
    sp="sp",
    syscall_abi=SyscallAbi("a7", ("a0", "a1", "a2", "a3", "a4", "a5"), "a0"),
    syscall_numbers=GENERIC_SYSCALLS,
    platform="",
    hwcap=sum(1 << (ord(c) - ord("a")) for c in "imafdc"),
    hwcap2=0,
    stack_top=0x3FFFFFF000,
    pie_base=0x2AAAAAA000,
    mmap_base=0x3FF7FFF000,
    gdb_architecture="riscv:rv64",
    gdb_registers=GDB_REGISTERS,
    gdb_expedite=("fp", "sp", "pc"),
    gdb_feature_types={},
    setup=_enable_fpu,
    initial_registers={"fcsr": 0},  # round to nearest, no flags, as at exec
    syscall_interrupt=8,  # environment call from U-mode
    # time at the HiFive Unleashed's 1 MHz timebase (its SiFive U54 is the CPU model), cycle at
    # 1 GHz; instret is the guest's own icount. Unicorn answers cycle and instret from the
    # host and traps time: hooks answer the first two, the trap handler the third.
    counter_hz={Counter.TIME: 1_000_000, Counter.CYCLE: 1_000_000_000},
    counter_reads=_counter_reads,
    counter_patterns=RV_COUNTER_PATTERNS,
    counter_trap=_counter_trap,
    counter_trap_interrupt=2,  # illegal instruction
    watchpoints_steppable=False,
    stat_layout="generic",
    breakpoint_kinds=frozenset({2, 4}),
    # Illegal instruction, breakpoint, load and store/AMO address misaligned (the emulator
    # raises them for LR/SC and AMOs only), access faults, page faults.
    interrupt_signals={2: 4, 3: 5, 4: 7, 6: 7, 5: 11, 7: 11, 13: 11, 15: 11},
    # ILL_ILLOPC, TRAP_BRKPT at the pc; BUS_ADRALN at the address accessed
    interrupt_siginfo={2: (1, True), 3: (1, True), 4: (1, False), 6: (1, False)},
    interrupt_access_faults=frozenset({4, 6}),
    access_address_register=lambda word: ABI_NAMES[(word >> 15) & 31],  # LR/SC/AMO's rs1
    # Unicorn leaves pc 4 past an illegal instruction (2-byte ones too) and a misaligned LR,
    # SC or AMO, where Linux reports the instruction itself.
    interrupt_pc_past={2: 4, 4: 4, 6: 4},
    breakpoint_encodings=frozenset({0x00100073, 0x9002}),  # ebreak, c.ebreak
    sigaction_has_restorer=False,
    is_call=_is_call,
    is_return=_is_return,
    display_registers=(*ABI_NAMES[1:], "pc", "fcsr", "fa0", "fa1"),
    tls_register="tp",
    # QEMU's load_res / load_val: lr.d a1,(a0); sc.d a2,a1,(a0).
    reservation=ReservationProbe(
        load=(0x100535AF).to_bytes(4, "little"),
        store=(0x18B5362F).to_bytes(4, "little"),
        address="a0",
        loaded=("a1",),
        status="a2",
        fields=("addr", "val"),
    ),
)
