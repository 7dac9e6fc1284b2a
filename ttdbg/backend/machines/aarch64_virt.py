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
from ..machine import SIGILL, Machine
from .board import Board, Bus, Device, DeviceState, MemoryRegion, SerialPort
from .generic_timer import GenericTimer
from .gicv2 import NUM_IRQ, CpuInterface, Distributor, Gic
from .pl011 import Pl011

UART_IRQ = 33  # SPI 1
EXCP_UDEF = 1  # Unicorn raises hvc as undefined (its CPU has no EL2); PSCI answers it
HVC_MASK, HVC = 0xFFE0001F, 0xD4000002
PSTATE_EL1H = 0x5
PSTATE_I, PSTATE_F = 0x80, 0x40
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
        """As QEMU starts an ELF kernel on virt without EL2/EL3: EL1h, DAIF masked, pc at
        the entry, the other registers 0 (no device tree is placed in RAM)."""
        self.machine = machine
        # Unicorn's CPU has EL2 and EL3 (QEMU's virt has neither) and leaves them set up for
        # AArch32 below: make EL1 non-secure AArch64, as where QEMU starts, or eret fails.
        uc = machine.uc
        uc.reg_write(a.UC_ARM64_REG_CP_REG, (*SCR_EL3, SCR_NS | SCR_RW))
        uc.reg_write(a.UC_ARM64_REG_CP_REG, (*HCR_EL2, HCR_RW))
        machine.set_reg("cpsr", PSTATE_DAIF | PSTATE_EL1H)
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
        if word & HVC_MASK != HVC:
            machine.raise_fault(SIGILL, pc, f"CPU exception {EXCP_UDEF} (undefined instruction)")
            return
        with self.bus.instruction_access():
            result = self._psci(machine)
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
        if fn in PSCI_CPU_SUSPEND or fn == PSCI_CPU_OFF:
            what = "CPU_OFF" if fn == PSCI_CPU_OFF else "CPU_SUSPEND"
            self.bus.fail(f"PSCI {what} of the only CPU: not modelled")
            return None
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
        """AArch64 exception entry to EL1 for an IRQ or FIQ: SPSR/ELR saved, EL1h with DAIF
        masked (QEMU clears the flags too), SP_EL1, pc at the vector."""
        gic = self.gic
        pstate = machine.reg("cpsr")
        if gic.fiq_line and not pstate & PSTATE_F:
            vector = 0x100
        elif gic.irq_line and not pstate & PSTATE_I:
            vector = 0x80
        else:
            return None
        number = gic.current
        el, spsel = (pstate >> 2) & 3, pstate & 1
        if el == 0:
            vector += 0x400
        elif spsel:
            vector += 0x200
        pc = machine.pc
        if el == 0 or not spsel:  # leave SP_EL0 for SP_EL1
            machine.set_reg("sp_el0", machine.reg("sp"))
            machine.set_reg("cpsr", PSTATE_DAIF | PSTATE_EL1H)
            machine.set_reg("sp", machine.reg("sp_el1"))
        else:
            machine.set_reg("cpsr", PSTATE_DAIF | PSTATE_EL1H)
        machine.set_reg("spsr_el1", pstate)  # (a CP_REG write: Unicorn rebuilds its EL flags)
        machine.set_reg("elr_el1", pc)
        machine.set_reg("pc", machine.reg("vbar_el1") + vector)
        return number

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
