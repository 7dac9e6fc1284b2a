"""QEMU's `virt` machine for RISC-V 64 in M-mode (`-bios none`): RAM at 0x80000000, an
NS16550A UART on PLIC source 10, the CLINT timer and the sifive_test finisher."""

from __future__ import annotations

import dataclasses

from unicorn import riscv_const as r

from ..arch import Arch, GdbRegister, Register
from ..arch.riscv64 import ABI_NAMES
from ..arch.riscv64 import ARCH as RISCV64
from ..loader import Program
from ..machine import BAD_FETCH, BAD_READ, BAD_WRITE, UNDECODED, Machine
from .board import Board, Bus, Device, DeviceState, MemoryRegion, SerialPort, Trap
from .ns16550a import Ns16550a
from .riscv_devices import Clint, Plic, SifiveTest

UART_SOURCE = 10
# Synchronous exceptions: Unicorn's numbers (QEMU's EXCP_*) and the mcause values entered.
ILLEGAL, BREAKPOINT, U_ECALL, M_ECALL = 2, 3, 8, 11
LOAD_MISALIGNED, STORE_MISALIGNED = 4, 6  # an atomic's address (lr: load, sc/amo: store)
MISALIGNED = (LOAD_MISALIGNED, STORE_MISALIGNED)
OP_AMO = 0x2F
# Accesses no memory or device answers: QEMU's access faults.
BUS_ERRORS = {BAD_FETCH: 1, BAD_READ: 5, BAD_WRITE: 7}
MSI, MTI, MEI = 3, 7, 11
MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP = 1 << 3, 1 << 7, 3 << 11
INTERRUPT = 1 << 63
MIP_SUPERVISOR = (1 << 1) | (1 << 5) | (1 << 9)  # SSIP, STIP, SEIP: writable, not modelled
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
        # The board keeps mip (its interrupt lines): the machine reads it from the board.
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
    # QEMU 7.2's `info mtree` for -M virt -bios none, less what is modelled here.
    qemu_devices = (
        (0x1000, 0xF000, "the reset ROM (mrom)"),
        (0x101000, 0x24, "the Goldfish RTC"),
        (0x3000000, 0x10000, "the PCIe I/O window"),
        (0x10001000, 0x8000, "virtio-mmio"),
        (0x10100000, 0x18, "fw_cfg"),
        (0x20000000, 0x4000000, "flash (pflash)"),
        (0x30000000, 0x10000000, "PCIe ECAM"),
        (0x40000000, 0x40000000, "the PCIe MMIO window"),
        (0x400000000, 0x400000000, "the high PCIe MMIO window"),
    )

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
        machine.outside_registers["mip"] = lambda: self.mip

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

    def answers(self, mnem: str, ops: str) -> bool:
        return mnem.startswith("csr") and "mip" in (op.strip() for op in ops.split(","))

    def answer(self, machine: Machine, pc: int) -> None:
        """A CSR instruction on mip: reads give the interrupt lines; the M-mode bits are
        read-only, and the supervisor ones (which nothing here models) may not be set."""
        insn = int.from_bytes(machine.read(pc, 4), "little")
        funct3, rd, src = (insn >> 12) & 7, (insn >> 7) & 31, (insn >> 15) & 31
        value = src if funct3 & 4 else (machine.reg(ABI_NAMES[src]) if src else 0)
        old = self.mip
        op = funct3 & 3
        new = value if op == 1 else old | value if op == 2 else old & ~value
        writes = op == 1 or src != 0  # csrrs/csrrc with x0 (or uimm 0) only read
        if writes and (new ^ old) & MIP_SUPERVISOR:
            self.bus.fail(f"csr write of {new:#x} to mip: supervisor interrupts are not modelled")
            return
        if rd:
            machine.set_reg(ABI_NAMES[rd], old)

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

    def take_trap(self, machine: Machine, trap: Trap) -> int | None:
        pc, intno = trap.pc, trap.intno
        bus_error = BUS_ERRORS.get(intno)
        if bus_error is not None:
            cause, tval = bus_error, trap.address  # QEMU: an access fault, mtval the address
        else:
            low = int.from_bytes(machine.read(pc, 2), "little")
            insn = int.from_bytes(machine.read(pc, 4), "little") if low & 3 == 3 else low
            if intno == UNDECODED and insn in RISCV64.breakpoint_encodings:
                cause, tval = BREAKPOINT, 0  # as QEMU 7.2 leaves it
            elif intno == U_ECALL:
                cause, tval = M_ECALL, 0  # firmware runs in M-mode
            elif intno in (ILLEGAL, UNDECODED):
                cause, tval = ILLEGAL, insn  # QEMU 7.2: mtval holds the instruction's bits
            elif intno in MISALIGNED and insn & 0x7F == OP_AMO:
                # An atomic (lr, sc, amo*) at a misaligned address: the address is rs1's.
                rs1 = (insn >> 15) & 31
                cause, tval = intno, machine.reg(ABI_NAMES[rs1]) if rs1 else 0
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

    def interrupt_name(self, number: int) -> str:
        return f"{_NAMES.get(number, 'interrupt')} (cause {number})"

    def pending(self) -> list[str]:
        out = [f"{_NAMES[c]} (mip bit {c})" for c in (MEI, MSI, MTI) if self.mip & (1 << c)]
        out += [
            f"PLIC source {s}" for s in range(1, len(self.plic.pending)) if self.plic.pending[s]
        ]
        return out
