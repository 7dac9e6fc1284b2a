"""QEMU's `virt` machine for RISC-V 64 in M-mode (`-bios none`): RAM at 0x80000000, an
NS16550A UART on PLIC source 10, the CLINT timer and the sifive_test finisher."""

from __future__ import annotations

import dataclasses

from unicorn import riscv_const as r

from ..arch import Arch, GdbRegister, Register
from ..arch.riscv64 import ARCH as RISCV64
from ..loader import Program
from ..machine import UNDECODED, Machine
from .board import Board, Bus, Device, DeviceState, MemoryRegion, SerialPort
from .ns16550a import Ns16550a
from .riscv_devices import Clint, Plic, SifiveTest

UART_SOURCE = 10
# Synchronous exceptions: Unicorn's numbers (QEMU's EXCP_*) and the mcause values entered.
ILLEGAL, BREAKPOINT, U_ECALL, M_ECALL = 2, 3, 8, 11
MSI, MTI, MEI = 3, 7, 11
MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP = 1 << 3, 1 << 7, 3 << 11
INTERRUPT = 1 << 63
_NAMES = {MSI: "machine software", MTI: "machine timer", MEI: "machine external"}

# The machine-mode CSRs firmware uses: snapshots keep them, gdb shows them.
CSRS = (
    ("mstatus", r.UC_RISCV_REG_MSTATUS, 0x300),
    ("misa", r.UC_RISCV_REG_MISA, 0x301),
    ("mie", r.UC_RISCV_REG_MIE, 0x304),
    ("mtvec", r.UC_RISCV_REG_MTVEC, 0x305),
    ("mscratch", r.UC_RISCV_REG_MSCRATCH, 0x340),
    ("mepc", r.UC_RISCV_REG_MEPC, 0x341),
    ("mcause", r.UC_RISCV_REG_MCAUSE, 0x342),
    ("mtval", r.UC_RISCV_REG_MTVAL, 0x343),
    ("mhartid", r.UC_RISCV_REG_MHARTID, 0xF14),
)
_CSR_FEATURE = "org.gnu.gdb.riscv.csr"

ARCH: Arch = dataclasses.replace(
    RISCV64,
    registers=(*RISCV64.registers, *(Register(n, uc, 8) for n, uc, _num in CSRS)),
    gdb_registers=(
        *RISCV64.gdb_registers,
        *(GdbRegister(n, 64, "int", _CSR_FEATURE, n, group="system") for n, _uc, _num in CSRS),
        # The board keeps mip (its interrupt lines); Timeline.registers() adds it.
        GdbRegister("mip", 64, "int", _CSR_FEATURE, "mip", group="system"),
    ),
    syscall_abi=RISCV64.syscall_abi,
    syscall_numbers={},
    syscall_interrupt=None,
    platform="firmware",
    initial_registers={},
    display_registers=(
        *RISCV64.display_registers,
        "mstatus",
        "mie",
        "mip",
        "mepc",
        "mcause",
        "mtvec",
    ),
)


def _unmasks(mnem: str, ops: str) -> bool:
    """mret, and CSR instructions on mstatus or mie, can let a pending interrupt in."""
    if mnem == "mret":
        return True
    return mnem.startswith("csr") and any(op.strip() in ("mstatus", "mie") for op in ops.split(","))


class RiscvVirt(Board):
    """qemu-system-riscv64 -M virt -bios none -kernel fw.elf"""

    name = "virt"
    arch_name = "riscv64"
    cpus = ("rv64",)
    description = "RISC-V 64 virt (M-mode): RAM 0x80000000, NS16550A 0x10000000, CLINT, PLIC"
    RAM = MemoryRegion("ram", 0x80000000, 128 << 20)

    def __init__(self, bus: Bus, cpu: str) -> None:
        super().__init__(bus, cpu)
        self.mip = 0
        self.plic = Plic(bus, 0x0C000000, (self._external, lambda level: None))
        self.uart = Ns16550a(bus, 0x10000000, self._uart_line)
        self.clint = Clint(bus, 0x02000000, self._timer, self._soft)
        self.test = SifiveTest(bus, 0x100000)

    def _set(self, bit: int, level: bool) -> None:
        self.mip = self.mip | (1 << bit) if level else self.mip & ~(1 << bit)

    def _external(self, level: bool) -> None:
        self._set(MEI, level)

    def _timer(self, level: bool) -> None:
        self._set(MTI, level)

    def _soft(self, level: bool) -> None:
        self._set(MSI, level)

    def _uart_line(self, level: bool) -> None:
        self.plic.set_level(UART_SOURCE, level)

    @property
    def arch(self) -> Arch:
        return ARCH

    @property
    def memory(self) -> tuple[MemoryRegion, ...]:
        return (self.RAM,)

    @property
    def devices(self) -> tuple[Device, ...]:
        return (self.uart, self.plic, self.clint, self.test)

    @property
    def serial(self) -> tuple[SerialPort, ...]:
        return (self.uart,)

    def reset(self, machine: Machine, program: Program) -> None:
        # What QEMU's reset vector at 0x1000 leaves: a0 = hart id, a1 = the device tree
        # (none here), M-mode, then a jump to the ELF's entry.
        machine.set_reg("a0", 0)
        machine.set_reg("a1", 0)
        machine.set_reg("pc", program.entry)

    def load(self, state: DeviceState) -> None:
        super().load(state)
        self.plic.level[UART_SOURCE] = self.uart.line()
        self.mip = (
            (1 << MEI if self.plic.output(0) else 0)
            | (1 << MTI if self.clint.timer_line else 0)
            | (1 << MSI if self.clint.msip else 0)
        )

    def unmasks(self, mnem: str, ops: str) -> bool:
        return _unmasks(mnem, ops)

    def _deliverable(self, machine: Machine) -> int:
        return self.mip & machine.reg("mie")

    def any_pending(self) -> bool:
        return self.mip != 0

    def wakes(self, machine: Machine) -> bool:
        return self._deliverable(machine) != 0

    def take_interrupt(self, machine: Machine) -> int | None:
        status = machine.reg("mstatus")
        ready = self._deliverable(machine)
        if not status & MSTATUS_MIE or not ready:
            return None
        cause = next(c for c in (MEI, MSI, MTI) if ready & (1 << c))
        machine.set_reg("mepc", machine.pc)
        machine.set_reg("mcause", INTERRUPT | cause)
        machine.set_reg("mtval", 0)
        status = (status & ~(MSTATUS_MIE | MSTATUS_MPIE)) | MSTATUS_MPP
        machine.set_reg("mstatus", status | MSTATUS_MPIE)  # MIE was set: MPIE keeps it
        tvec = machine.reg("mtvec")
        base = tvec & ~3
        machine.set_reg("pc", base + 4 * cause if tvec & 3 == 1 else base)
        return cause

    def take_trap(self, machine: Machine, intno: int, pc: int) -> int | None:
        low = int.from_bytes(machine.read(pc, 2), "little")
        insn = int.from_bytes(machine.read(pc, 4), "little") if low & 3 == 3 else low
        if intno == UNDECODED and insn in RISCV64.breakpoint_encodings:
            cause, tval = BREAKPOINT, 0  # as QEMU 7.2 leaves it
        elif intno == U_ECALL:
            cause, tval = M_ECALL, 0  # firmware runs in M-mode
        elif intno in (ILLEGAL, UNDECODED):
            cause, tval = ILLEGAL, insn  # QEMU 7.2: mtval holds the instruction's bits
        else:
            return None
        machine.set_reg("mepc", pc)
        machine.set_reg("mcause", cause)
        machine.set_reg("mtval", tval)
        status = machine.reg("mstatus")
        mpie = MSTATUS_MPIE if status & MSTATUS_MIE else 0
        machine.set_reg("mstatus", (status & ~(MSTATUS_MIE | MSTATUS_MPIE)) | MSTATUS_MPP | mpie)
        machine.set_reg("pc", machine.reg("mtvec") & ~3)  # exceptions use the base, vectored too
        return cause

    def cpu_registers(self) -> dict[str, int]:
        return {"mip": self.mip}

    def interrupt_name(self, number: int) -> str:
        return f"{_NAMES.get(number, 'interrupt')} (cause {number})"

    def pending(self) -> list[str]:
        out = [f"{_NAMES[c]} (mip bit {c})" for c in (MEI, MSI, MTI) if self.mip & (1 << c)]
        out += [
            f"PLIC source {s}" for s in range(1, len(self.plic.pending)) if self.plic.pending[s]
        ]
        return out
