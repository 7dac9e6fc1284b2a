"""QEMU's `virt` machine for AArch64 (`-M virt -cpu cortex-a72 -kernel fw.elf`): RAM at
0x40000000, a PL011 UART on SPI 1 (interrupt 33), a GICv2, the generic timer (PPIs 27 and
30), PSCI over `hvc`; the CPU starts at EL1 as QEMU starts an ELF kernel without EL2/EL3.

System registers: the timer's are modelled here; those snapshots keep run in Unicorn; the
read-only ID registers read as Unicorn's CPU has them. Any other `mrs`/`msr` stops the
recording with the register's name and the pc, so nothing the firmware sets is lost between
snapshots.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import unicorn
from unicorn import arm64_const as a

from ..arch import Arch, GdbRegister, Register
from ..arch.aarch64 import ARCH as AARCH64
from ..loader import Program
from ..machine import BAD_FETCH, BAD_READ, BAD_WRITE, Machine
from .board import Board, Bus, Device, DeviceState, MemoryRegion, SerialPort, Trap
from .generic_timer import GenericTimer
from .gicv2 import NUM_IRQ, CpuInterface, Distributor, Gic
from .pl011 import Pl011

UART_IRQ = 33  # SPI 1
EXCP_UDEF = 1  # Unicorn raises hvc as undefined (its CPU has no EL2); PSCI answers it
EXCP_SWI, EXCP_DATA_ABORT, EXCP_BKPT, EXCP_SMC = 2, 4, 7, 13  # Unicorn's (QEMU's EXCP_*)
# Exception classes (ESR_EL1.EC; the aborts' "same EL" class is one more) and fault codes.
EC_UNKNOWN, EC_SVC, EC_INSN_ABORT, EC_DATA_ABORT, EC_BRK = 0x00, 0x15, 0x20, 0x24, 0x3C
IL, WNR = 1 << 25, 1 << 6
FSC_EXTERNAL, FSC_ALIGNMENT = 0x10, 0x21
LDST_EXCL_MASK, LDST_EXCL, LDST_LOAD = 0x3F000000, 0x08000000, 1 << 22
ACQUIRE_RELEASE = frozenset({"ldar", "ldarh", "stlr", "stlrh"})  # (byte forms: aligned)
# An FP/SIMD access trap (ttdbg's number: Unicorn has none) and QEMU 7.2's syndrome for it.
FP_ACCESS, FP_ACCESS_ESR = -100, 0x07 << 26 | IL | 1 << 24 | 0xE << 20
HVC_MASK, HVC = 0xFFE0001F, 0xD4000002
# mrs/msr of FPCR (op2 0) or FPSR (op2 1): FP accesses too (QEMU's fp_access_check).
FP_CONTROL_MASK, FP_CONTROL = 0xFFDFFFC0, 0xD51B4400
PSTATE_EL1H = 0x5
PSTATE_I, PSTATE_F = 0x80, 0x40
PSTATE_Z = 1 << 30
PSTATE_DAIF = 0x3C0
MASK64 = (1 << 64) - 1

# (crn, crm, op0, op1, op2) as Unicorn's CP_REG wants them.
SPSR_EL1, SCTLR_EL1, TCR_EL1 = (4, 0, 3, 0, 0), (1, 0, 3, 0, 0), (2, 0, 3, 0, 2)
SCR_EL3, HCR_EL2 = (1, 1, 3, 6, 0), (1, 1, 3, 4, 0)
SCR_NS, SCR_RW, HCR_RW = 1, 1 << 10, 1 << 31
_SYSTEM = (
    Register("elr_el1", a.UC_ARM64_REG_ELR_EL1, 8),
    Register("spsr_el1", a.UC_ARM64_REG_CP_REG, 8, cp=SPSR_EL1),
    Register("esr_el1", a.UC_ARM64_REG_ESR_EL1, 8),
    Register("far_el1", a.UC_ARM64_REG_FAR_EL1, 8),
    Register("vbar_el1", a.UC_ARM64_REG_VBAR_EL1, 8),
    Register("sp_el0", a.UC_ARM64_REG_SP_EL0, 8),
    Register("sp_el1", a.UC_ARM64_REG_SP_EL1, 8),
    Register("sctlr_el1", a.UC_ARM64_REG_CP_REG, 8, cp=SCTLR_EL1),
    Register("cpacr_el1", a.UC_ARM64_REG_CPACR_EL1, 8),
    Register("tcr_el1", a.UC_ARM64_REG_CP_REG, 8, cp=TCR_EL1),
    Register("ttbr0_el1", a.UC_ARM64_REG_TTBR0_EL1, 8),
    Register("ttbr1_el1", a.UC_ARM64_REG_TTBR1_EL1, 8),
    Register("mair_el1", a.UC_ARM64_REG_MAIR_EL1, 8),
    Register("par_el1", a.UC_ARM64_REG_PAR_EL1, 8),
    Register("tpidr_el1", a.UC_ARM64_REG_TPIDR_EL1, 8),
    Register("tpidrro_el0", a.UC_ARM64_REG_TPIDRRO_EL0, 8),
)
_SYSTEM_FEATURE = "org.gnu.gdb.aarch64.system"

# The registers a firmware recording keeps: "cpsr" is the whole PSTATE (EL, SPSel, DAIF and
# the flags), as QEMU's gdb stub shows it.
_REGISTERS = (
    tuple(
        Register("cpsr", a.UC_ARM64_REG_PSTATE, 4) if r.name == "cpsr" else r
        for r in AARCH64.registers
    )
    + _SYSTEM
)

ARCH: Arch = dataclasses.replace(
    AARCH64,
    registers=_REGISTERS,
    gdb_registers=(
        *AARCH64.gdb_registers,
        *(GdbRegister(r.name, 64, "int", _SYSTEM_FEATURE, r.name, group="system") for r in _SYSTEM),
    ),
    syscall_numbers={},
    syscall_interrupt=EXCP_UDEF,
    platform="firmware",
    initial_registers={},
    counter_hz={},
    counter_reads=None,
    counter_faults=frozenset(),
    interrupt_signals={},
    display_registers=(
        *(f"x{i}" for i in range(31)),
        "sp",
        "pc",
        "cpsr",
        "elr_el1",
        "spsr_el1",
        "esr_el1",
        "far_el1",
        "vbar_el1",
        "sp_el0",
        "sp_el1",
    ),
)
CPU_MODELS = {"cortex-a72": a.UC_CPU_ARM64_A72, "cortex-a53": a.UC_CPU_ARM64_A53}

# System registers by (op0, op1, crn, crm, op2).
TIMER_REGISTERS = {
    (3, 3, 14, 0, 0): "cntfrq",
    (3, 3, 14, 0, 1): "cntpct",
    (3, 3, 14, 0, 2): "cntvct",
    (3, 0, 14, 1, 0): "cntkctl",
    (3, 3, 14, 2, 0): "cntp_tval",
    (3, 3, 14, 2, 1): "cntp_ctl",
    (3, 3, 14, 2, 2): "cntp_cval",
    (3, 3, 14, 3, 0): "cntv_tval",
    (3, 3, 14, 3, 1): "cntv_ctl",
    (3, 3, 14, 3, 2): "cntv_cval",
}
# Kept in snapshots (the register table above, PSTATE's fields, FP control): Unicorn runs them.
KEPT = {
    (3, 0, 4, 0, 0): "spsr_el1", (3, 0, 4, 0, 1): "elr_el1", (3, 0, 4, 1, 0): "sp_el0",
    (3, 0, 4, 2, 0): "spsel", (3, 3, 4, 2, 1): "daif", (3, 3, 4, 2, 0): "nzcv",
    (3, 3, 4, 4, 0): "fpcr", (3, 3, 4, 4, 1): "fpsr", (3, 0, 12, 0, 0): "vbar_el1",
    (3, 0, 5, 2, 0): "esr_el1", (3, 0, 6, 0, 0): "far_el1", (3, 0, 1, 0, 0): "sctlr_el1",
    (3, 0, 1, 0, 2): "cpacr_el1", (3, 0, 2, 0, 0): "ttbr0_el1", (3, 0, 2, 0, 1): "ttbr1_el1",
    (3, 0, 2, 0, 2): "tcr_el1", (3, 0, 10, 2, 0): "mair_el1", (3, 0, 7, 4, 0): "par_el1",
    (3, 0, 13, 0, 4): "tpidr_el1", (3, 3, 13, 0, 2): "tpidr_el0", (3, 3, 13, 0, 3): "tpidrro_el0",
}  # fmt: skip
ID_AA64PFR0_EL1, PFR0_EL2_EL3 = (3, 0, 0, 4, 0), 0xFF00
READ_ONLY = {
    (3, 0, 4, 2, 2): "currentel", (3, 0, 0, 0, 0): "midr_el1", (3, 0, 0, 0, 5): "mpidr_el1",
    (3, 0, 0, 0, 6): "revidr_el1", (3, 3, 0, 0, 1): "ctr_el0", (3, 3, 0, 0, 7): "dczid_el0",
    (3, 1, 0, 0, 1): "clidr_el1",
}  # fmt: skip


def _read_only(key: tuple[int, int, int, int, int]) -> bool:
    """The ID registers (op0 3, op1 0, CRn 0: ID_AA64*, ID_PFR*...) and the few above."""
    op0, op1, crn, _crm, _op2 = key
    return key in READ_ONLY or (op0, op1, crn) == (3, 0, 0)


def _fp_instruction(word: int) -> bool:
    """op0 x11x: FP and SIMD data processing, SIMD&FP loads and stores."""
    return (word >> 26) & 3 == 3


def sysreg_name(key: tuple[int, int, int, int, int]) -> str:
    op0, op1, crn, crm, op2 = key
    name = TIMER_REGISTERS.get(key) or KEPT.get(key) or READ_ONLY.get(key)
    encoded = f"S{op0}_{op1}_C{crn}_C{crm}_{op2}"
    return f"{name} ({encoded})" if name else encoded


# PSCI (QEMU 7.2's arm_handle_psci_call with the hvc conduit): function ID -> result.
PSCI_VERSION, PSCI_1_1 = 0x84000000, 0x10001
PSCI_CPU_SUSPEND = (0x84000001, 0xC4000001)
PSCI_CPU_OFF = 0x84000002
PSCI_CPU_ON = (0x84000003, 0xC4000003)
PSCI_AFFINITY_INFO = (0x84000004, 0xC4000004)
PSCI_MIGRATE_INFO_TYPE = 0x84000006
PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET = 0x84000008, 0x84000009
PSCI_FEATURES = 0x8400000A
PSCI_SUCCESS, NOT_SUPPORTED, INVALID_PARAMETERS, ALREADY_ON = 0, -1, -2, -4
_PSCI_KNOWN = {
    PSCI_VERSION, PSCI_MIGRATE_INFO_TYPE, *PSCI_AFFINITY_INFO, PSCI_SYSTEM_RESET,
    PSCI_SYSTEM_OFF, *PSCI_CPU_ON, PSCI_CPU_OFF, *PSCI_CPU_SUSPEND, PSCI_FEATURES,
}  # fmt: skip
_NAMES = {27: "virtual timer", 30: "physical timer", UART_IRQ: "uart0"}


class Aarch64Virt(Board):
    """qemu-system-aarch64 -M virt -cpu cortex-a72 -kernel fw.elf"""

    name = "virt"
    arch_name = "aarch64"
    cpus = ("cortex-a72", "cortex-a53")
    description = "AArch64 virt (EL1): RAM 0x40000000, PL011 0x09000000, GICv2, generic timer"
    RAM = MemoryRegion("ram", 0x40000000, 128 << 20)
    # QEMU 7.2's `info mtree` for -M virt, less what is modelled here.
    qemu_devices = (
        (0x00000000, 0x08000000, "flash (pflash)"),
        (0x08020000, 0x1000, "GICv2m"),
        (0x09010000, 0x1000, "the PL031 RTC"),
        (0x09020000, 0x18, "fw_cfg"),
        (0x09030000, 0x1000, "the PL061 GPIO"),
        (0x0A000000, 0x4000, "virtio-mmio"),
        (0x10000000, 0x2EFF0000, "the PCIe MMIO window"),
        (0x3EFF0000, 0x10000, "the PCIe I/O window"),
        (0x4010000000, 0x10000000, "PCIe ECAM"),
        (0x8000000000, 0x8000000000, "the high PCIe MMIO window"),
    )

    def __init__(self, bus: Bus, cpu: str) -> None:
        super().__init__(bus, cpu)
        self.gic = Gic(bus, self._cpu_lines)
        self.gicd = Distributor(bus, 0x08000000, self.gic)
        self.gicc = CpuInterface(bus, 0x08010000, self.gic)
        self.uart = Pl011(bus, 0x09000000, lambda high: self.gic.set_level(UART_IRQ, high))
        self.timer = GenericTimer(bus, self.gic.set_level)
        self._arch = dataclasses.replace(ARCH, cpu_model=CPU_MODELS[cpu])
        self.machine: Machine | None = None

    def _cpu_lines(self, irq: bool, fiq: bool) -> None:
        pass  # the board reads the GIC's lines when it decides (wakes, take_interrupt)

    @property
    def arch(self) -> Arch:
        return self._arch

    @property
    def memory(self) -> tuple[MemoryRegion, ...]:
        return (self.RAM,)

    @property
    def devices(self) -> tuple[Device, ...]:
        return (self.gicd, self.gicc, self.uart)

    @property
    def serial(self) -> tuple[SerialPort, ...]:
        return (self.uart,)

    def reset(self, machine: Machine, program: Program) -> None:
        """As QEMU starts an ELF kernel on virt without EL2/EL3: EL1h, DAIF masked, Z set,
        pc at the entry, the other registers 0 (no device tree is placed in RAM)."""
        self.machine = machine
        # Unicorn's CPU has EL2 and EL3 (QEMU's virt has neither) and leaves them set up for
        # AArch32 below: make EL1 non-secure AArch64, as where QEMU starts, or eret fails.
        uc = machine.uc
        uc.reg_write(a.UC_ARM64_REG_CP_REG, (*SCR_EL3, SCR_NS | SCR_RW))
        uc.reg_write(a.UC_ARM64_REG_CP_REG, (*HCR_EL2, HCR_RW))
        # (QEMU keeps Z inverted and resets it to 0: the CPU starts with Z set.)
        machine.set_reg("cpsr", PSTATE_Z | PSTATE_DAIF | PSTATE_EL1H)
        machine.set_reg("pc", program.entry)
        machine.on_syscall = self._undefined
        uc.hook_add(unicorn.UC_HOOK_INSN, self._mrs, None, 1, 0, a.UC_ARM64_INS_MRS)
        uc.hook_add(unicorn.UC_HOOK_INSN, self._msr, None, 1, 0, a.UC_ARM64_INS_MSR)

    # -- system registers (Unicorn's instruction hooks; True skips the instruction) ---------

    def _mrs(self, uc: unicorn.Uc, reg: int, cp: Any, _data: object) -> bool:
        key = (cp.op0, cp.op1, cp.crn, cp.crm, cp.op2)
        name = TIMER_REGISTERS.get(key)
        if name is None:
            if key == ID_AA64PFR0_EL1:  # Unicorn's CPU has EL2 and EL3; QEMU's virt neither
                value = uc.reg_read(a.UC_ARM64_REG_CP_REG, (cp.crn, cp.crm, *key[:2], cp.op2))
                uc.reg_write(reg, value & ~PFR0_EL2_EL3)
                return True
            if key in KEPT or _read_only(key):
                return False
            return self._refuse("mrs", key)
        if self._at_el0():
            return self._refuse("EL0 mrs", key)
        with self.bus.instruction_access():
            value = self.timer.read(name)
        if reg != a.UC_ARM64_REG_XZR:
            uc.reg_write(reg, value)
        return True

    def _msr(self, uc: unicorn.Uc, reg: int, cp: Any, _data: object) -> bool:
        key = (cp.op0, cp.op1, cp.crn, cp.crm, cp.op2)
        name = TIMER_REGISTERS.get(key)
        if name is None:
            if key in KEPT:
                return False
            return self._refuse("msr", key)
        if self._at_el0():
            return self._refuse("EL0 msr", key)
        with self.bus.instruction_access():
            if not self.timer.write(name, cp.val):
                self.bus.fail(f"msr to the read-only {sysreg_name(key)}")
            self.bus.interrupts_changed()
        return True

    def _at_el0(self) -> bool:
        return self._machine().reg("cpsr") & 0xC == 0

    def _refuse(self, what: str, key: tuple[int, int, int, int, int]) -> bool:
        with self.bus.instruction_access():
            self.bus.fail(f"{what} {sysreg_name(key)}: system register not modelled")
        return True

    # -- PSCI over hvc -----------------------------------------------------------------------

    def _undefined(self, machine: Machine) -> None:
        pc = machine.pc  # an undefined instruction is not retired: pc is on it
        word = int.from_bytes(machine.read(pc, 4), "little")
        if word & HVC_MASK != HVC or self._at_el0():  # (hvc is undefined at EL0)
            # (QEMU checks FP access before it decodes further.)
            esr = FP_ACCESS_ESR if self._fp_trapped(machine, word) else EC_UNKNOWN << 26 | IL
            self._enter(machine, 0, pc, esr)
            machine.icount = machine.icount_at(pc) + 1  # the trap counts as one
            return
        with self.bus.instruction_access():
            result = self._psci(machine)
        if result is None and machine.halted is None:
            machine.icount = machine.icount_at(pc)  # refused: the run stops in front of it
        if result is None or machine.halted is not None:
            return
        machine.set_reg("x0", result & MASK64)
        machine.icount = machine.icount_at(pc) + 1  # the hvc retires
        machine.set_reg("pc", pc + 4)

    def _psci(self, machine: Machine) -> int | None:
        fn, arg1, arg2 = machine.reg("x0"), machine.reg("x1"), machine.reg("x2")
        if fn == PSCI_SYSTEM_OFF:
            self.bus.finish(0, "PSCI SYSTEM_OFF")
            return None
        if fn == PSCI_SYSTEM_RESET:
            self.bus.finish(0, "PSCI SYSTEM_RESET (the recording ends, as QEMU's -no-reboot)")
            return None
        if fn == PSCI_VERSION:
            return PSCI_1_1
        if fn == PSCI_MIGRATE_INFO_TYPE:
            return 2  # no trusted OS to migrate
        if fn == PSCI_FEATURES:
            return PSCI_SUCCESS if arg1 in _PSCI_KNOWN else NOT_SUPPORTED
        if fn in PSCI_CPU_ON:
            return ALREADY_ON if arg1 == 0 else INVALID_PARAMETERS  # cpu 0 is the only one
        if fn in PSCI_AFFINITY_INFO:
            if arg2 != 0 or arg1 == 0:
                return 0  # on (levels above 0 are always on)
            return INVALID_PARAMETERS
        if fn in PSCI_CPU_SUSPEND and arg1 & 0xFFFE0000:
            return INVALID_PARAMETERS
        if fn == PSCI_CPU_OFF:
            # QEMU turns the CPU off and idles for ever: nothing can turn it on again.
            self.bus.fail(
                "PSCI CPU_OFF: the only CPU is off and nothing can turn it on again (QEMU "
                "idles here for ever); the run ends in front of the hvc"
            )
            return None
        if fn in PSCI_CPU_SUSPEND:
            # As QEMU: no power-down state is kept; the CPU waits for an interrupt as wfi
            # does, then the call returns SUCCESS (an interrupt taken returns after the hvc).
            self.bus.wait_for_interrupt("PSCI CPU_SUSPEND")
            return PSCI_SUCCESS
        return NOT_SUPPORTED

    # -- interrupts --------------------------------------------------------------------------

    def _machine(self) -> Machine:
        assert self.machine is not None, "the board is used before reset"
        return self.machine

    def any_pending(self) -> bool:
        return self.gic.irq_line or self.gic.fiq_line

    def wakes(self, machine: Machine) -> bool:
        return self.gic.irq_line or self.gic.fiq_line

    def unmasks(self, mnem: str, ops: str) -> bool:
        if mnem == "eret":
            return True
        return mnem == "msr" and ops.split(",")[0].strip() in ("daifclr", "daif")

    def take_interrupt(self, machine: Machine) -> int | None:
        gic = self.gic
        pstate = machine.reg("cpsr")
        if gic.fiq_line and not pstate & PSTATE_F:
            offset = 0x100
        elif gic.irq_line and not pstate & PSTATE_I:
            offset = 0x80
        else:
            return None
        self._enter(machine, offset, machine.pc)
        return gic.current

    def take_trap(self, machine: Machine, trap: Trap) -> int | None:
        """A synchronous exception to EL1 with the syndrome QEMU 7.2 gives (ESR_EL1, and
        FAR_EL1 for aborts): bus errors are external aborts, a misaligned exclusive an
        alignment fault, smc (virt has no EL3) an undefined instruction."""
        pc, intno = trap.pc, trap.intno
        lower = 1 if self._at_el0() else 0
        far = None
        if intno == BAD_FETCH:
            esr, far = (EC_INSN_ABORT + 1 - lower) << 26 | IL | FSC_EXTERNAL, trap.address
        elif intno in (BAD_READ, BAD_WRITE):
            wnr = WNR if intno == BAD_WRITE else 0
            esr, far = (EC_DATA_ABORT + 1 - lower) << 26 | IL | wnr | FSC_EXTERNAL, trap.address
        else:
            word = int.from_bytes(machine.read(pc, 4), "little")
            if intno == EXCP_DATA_ABORT and word & LDST_EXCL_MASK == LDST_EXCL:
                # Unicorn's alignment fault on an exclusive or acquire/release access: the
                # address is the base register's (these have no offset).
                base = (word >> 5) & 31
                far = machine.reg("sp" if base == 31 else f"x{base}")
                wnr = 0 if word & LDST_LOAD else WNR
                esr = (EC_DATA_ABORT + 1 - lower) << 26 | IL | wnr | FSC_ALIGNMENT
            elif intno == EXCP_BKPT:
                esr = EC_BRK << 26 | IL | (word >> 5) & 0xFFFF
            elif intno == EXCP_SWI:
                esr = EC_SVC << 26 | IL | (word >> 5) & 0xFFFF
                self._enter(machine, 0, pc + 4, esr)  # svc returns after itself
                return EC_SVC
            elif intno == EXCP_SMC:
                esr = EC_UNKNOWN << 26 | IL  # QEMU's virt has no EL3: smc is undefined
            elif intno == FP_ACCESS:
                esr = FP_ACCESS_ESR
            else:
                return None
        self._enter(machine, 0, pc, esr, far)
        return esr >> 26

    def _enter(
        self, machine: Machine, offset: int, return_pc: int, esr: int | None = None,
        far: int | None = None,
    ) -> None:  # fmt: skip
        """AArch64 exception entry to EL1 (`offset` 0: synchronous, 0x80: IRQ, 0x100: FIQ):
        SPSR/ELR saved, EL1h with DAIF masked (QEMU clears the flags too), SP_EL1, pc at
        VBAR_EL1's vector for where the CPU was."""
        pstate = machine.reg("cpsr")
        el, spsel = (pstate >> 2) & 3, pstate & 1
        vector = offset + (0x400 if el == 0 else 0x200 if spsel else 0)
        if el == 0 or not spsel:  # leave SP_EL0 for SP_EL1
            machine.set_reg("sp_el0", machine.reg("sp"))
            machine.set_reg("cpsr", PSTATE_DAIF | PSTATE_EL1H)
            machine.set_reg("sp", machine.reg("sp_el1"))
        else:
            machine.set_reg("cpsr", PSTATE_DAIF | PSTATE_EL1H)
        machine.set_reg("spsr_el1", pstate)  # (a CP_REG write: Unicorn rebuilds its EL flags)
        machine.set_reg("elr_el1", return_pc)
        if esr is not None:
            machine.set_reg("esr_el1", esr)
        if far is not None:
            machine.set_reg("far_el1", far)
        machine.set_reg("pc", machine.reg("vbar_el1") + vector)

    def _fp_trapped(self, machine: Machine, word: int) -> bool:
        """An FP/SIMD instruction or an FPCR/FPSR access while CPACR_EL1.FPEN traps it here
        (Unicorn does not check)."""
        if not _fp_instruction(word) and word & FP_CONTROL_MASK != FP_CONTROL:
            return False
        fpen = (machine.reg("cpacr_el1") >> 20) & 3
        return fpen in (0, 2) or (fpen == 1 and self._at_el0())

    def checked(self, insns: list[tuple[int, int, str, str]], code: bytes) -> list[int]:
        """Load-acquire/store-release (QEMU faults them misaligned; Unicorn does not), every
        FPCR/FPSR access, and the block's first FP/SIMD instruction: what a clear
        CPACR_EL1.FPEN traps. The first suffices for the others: FPEN and the EL cannot
        change inside a block (msr and eret end one), and when it traps the run stops there,
        so one resumed after it starts a new block, in which the next is the first."""
        base = insns[0][0] if insns else 0
        out, fp_seen = [], False
        for addr, _size, mnem, _ops in insns:
            word = int.from_bytes(code[addr - base : addr - base + 4], "little")
            if mnem in ACQUIRE_RELEASE or word & FP_CONTROL_MASK == FP_CONTROL:
                out.append(addr)
            elif not fp_seen and _fp_instruction(word):
                out.append(addr)
                fp_seen = True
        return out

    def check(self, machine: Machine, pc: int) -> Trap | None:
        word = int.from_bytes(machine.read(pc, 4), "little")
        if self._fp_trapped(machine, word):
            return Trap(FP_ACCESS, pc)
        if word & LDST_EXCL_MASK == LDST_EXCL:
            base = (word >> 5) & 31
            address = machine.reg("sp" if base == 31 else f"x{base}")
            if address & ((1 << (word >> 30)) - 1):
                return Trap(EXCP_DATA_ABORT, pc, address, 1 << (word >> 30))
        return None

    def interrupt_name(self, number: int) -> str:
        name = _NAMES.get(number)
        return f"IRQ {number} ({name})" if name else f"IRQ {number}"

    def pending(self) -> list[str]:
        return [self.interrupt_name(i) for i in range(NUM_IRQ) if self.gic.pending(i)]

    # -- the timer beside the MMIO devices ---------------------------------------------------

    def deadline(self) -> int | None:
        return self.timer.deadline()

    def at_deadline(self) -> None:
        self.timer.at_deadline()

    def state(self) -> DeviceState:
        return {**super().state(), "timer": self.timer.state()}

    def load(self, state: DeviceState) -> None:
        super().load(state)
        self.timer.load(state["timer"])
        self.gic.update()

    def peripherals(self) -> dict[str, dict[str, int]]:
        return {**super().peripherals(), "timer": self.timer.registers()}
