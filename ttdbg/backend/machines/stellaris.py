"""QEMU's Stellaris boards `lm3s6965evb` and `lm3s811evb` (Cortex-M3): flash at 0, SRAM at
0x20000000, the NVIC/SysTick/SCB system control space and UART0 at 0x4000C000 (IRQ 5)."""

from __future__ import annotations

import struct
from typing import ClassVar

from ..arch import Arch
from ..arch.armv7m import ARCH
from ..cortexm.errors import NotModelled
from ..cortexm.exceptions import (
    EXCP_BKPT,
    EXCP_EXCEPTION_EXIT,
    EXCP_PREFETCH_ABORT,
    EXCP_SWI,
    EXCP_UNALIGNED,
    XPSR_T,
    exception_return,
    masks,
    take_exception,
)
from ..cortexm.fastcore import MachineCore
from ..cortexm.nvic import (
    DEBUGMONITOR,
    FIRST_IRQ,
    HARDFAULT,
    MEMMANAGE,
    SVCALL,
    SYSTICK,
    USAGEFAULT,
    ExceptionState,
)
from ..cortexm.scs import SCS_BASE, SCS_SIZE, SystemControl
from ..cortexm.stellaris_uart import ID_LUMINARY
from ..loader import Program
from ..machine import (
    BAD_FETCH,
    BAD_READ,
    BAD_WRITE,
    SIGBUS,
    SIGILL,
    SIGSEGV,
    SIGTRAP,
    UNDECODED,
    Machine,
)
from .board import Board, Bus, Device, DeviceState, MemoryRegion, SerialPort, Trap
from .pl011 import Pl011

UART0_BASE, UART0_IRQ = 0x4000C000, 5
NUM_IRQ = 64  # QEMU's stellaris NUM_IRQ_LINES
PRIORITY_BITS = 3  # the LM3S parts implement 3 priority bits
# The system clock after reset: QEMU derives it from RCC's reset value (SYSDIV /16 of 200 MHz).
SYSCLK_HZ = 12_500_000
XPSR_Z = 1 << 30
# Thumb register numbers 0-14 by name (base registers of the alignment checks, run per access).
_RN = (*(f"r{i}" for i in range(13)), "sp", "lr")
CFSR_UNDEFINSTR = 1 << 16  # UsageFault: an undefined instruction
CFSR_UNALIGNED = 1 << 24  # UsageFault: a misaligned exclusive (or ldrd/ldm) access
CFSR_IACCVIOL = 1 << 0  # MemManage: a fetch from an execute-never region
HFSR_FORCED = 1 << 30  # HardFault: a fault escalated
assert ARCH.syscall_interrupt == EXCP_EXCEPTION_EXIT


def _unmasks(mnem: str, ops: str) -> bool:
    """cpsie and msr to a mask register can let a pending exception in (both end QEMU's
    translated block)."""
    if mnem.startswith("cpsie"):
        return True
    return mnem.startswith("msr") and ops.split(",")[0].strip() in (
        "primask",
        "basepri",
        "basepri_max",
        "faultmask",
    )


class SystemControlSpace(Device):
    """The SCS at 0xE000E000: NVIC, SysTick and SCB registers over one exception state."""

    name = "scs"

    def __init__(self, bus: Bus, nvic: ExceptionState, ipsr: Machine | None = None) -> None:
        super().__init__(bus, SCS_BASE, SCS_SIZE)
        self.machine: Machine | None = ipsr
        self.regs = SystemControl(
            nvic,
            cycle=lambda: bus.ticks(SYSCLK_HZ),
            ipsr=lambda: self.machine.reg("xpsr") & 0x1FF if self.machine else 0,
            reset_request=lambda why: bus.finish(0, why),
        )

    def read(self, offset: int, size: int) -> int:
        try:
            return self.regs.read(offset, size)
        except NotModelled as err:
            self.bus.fail(f"{err} (not modelled)")
            return 0

    def write(self, offset: int, size: int, value: int) -> None:
        try:
            self.regs.write(offset, size, value)
        except NotModelled as err:
            self.bus.fail(f"{err} (not modelled)")
        self.bus.interrupts_changed()

    def deadline(self) -> int | None:
        cycle = self.regs.systick.due()
        return None if cycle is None else self.bus.icount_for_ticks(cycle, SYSCLK_HZ)

    def at_deadline(self) -> None:
        if self.regs.systick.fire(self.bus.ticks(SYSCLK_HZ)):
            self.regs.nvic.pending.add(SYSTICK)

    def state(self) -> DeviceState:
        return self.regs.state()

    def load(self, state: DeviceState) -> None:
        self.regs.restore(state)

    def registers(self) -> dict[str, int]:
        nvic, tick = self.regs.nvic, self.regs.systick
        cycle = self.bus.ticks(SYSCLK_HZ)
        return {
            "SYST_CSR": tick.csr,
            "SYST_RVR": tick.rvr,
            "SYST_CVR": tick.value(cycle),
            "NVIC_ISER0": sum(1 << (n - FIRST_IRQ) for n in nvic.enabled if n < FIRST_IRQ + 32),
            "NVIC_ISPR0": sum(1 << (n - FIRST_IRQ) for n in nvic.pending if FIRST_IRQ <= n < 48),
            "NVIC_IABR0": sum(1 << (n - FIRST_IRQ) for n in nvic.active if FIRST_IRQ <= n < 48),
            "VTOR": self.regs.vtor,
            "AIRCR_PRIGROUP": nvic.prigroup,
            "CCR": self.regs.ccr,
        }


class Uart(Pl011):
    """UART0: the Stellaris PL011, its interrupt line wired to the NVIC."""

    def __init__(self, bus: Bus, nvic: ExceptionState) -> None:
        self.nvic = nvic
        super().__init__(bus, UART0_BASE, self._line, ID_LUMINARY)

    def _line(self, high: bool) -> None:
        number = FIRST_IRQ + UART0_IRQ
        rising = high and number not in self.nvic.levels
        self.nvic.set_level(number, high)
        if rising:
            self.bus.interrupts_changed()  # newly pending: maybe taken after this access


class Stellaris(Board):
    """qemu-system-arm -M lm3s6965evb -kernel fw.elf (base class: sizes per board)."""

    arch_name = "armv7m"
    cpus = ("cortex-m3",)
    unmasks: ClassVar = staticmethod(_unmasks)
    fetch_faults = frozenset({EXCP_PREFETCH_ABORT})  # Unicorn's execute-never check
    flash_size: ClassVar[int]
    sram_size: ClassVar[int]

    def __init__(self, bus: Bus, cpu: str) -> None:
        super().__init__(bus, cpu)
        self.nvic = ExceptionState(num_irq=NUM_IRQ, priority_bits=PRIORITY_BITS)
        self.scs = SystemControlSpace(bus, self.nvic)
        self.uart = Uart(bus, self.nvic)
        self.machine: Machine | None = None
        self.core: MachineCore | None = None

    @property
    def arch(self) -> Arch:
        return ARCH

    @property
    def memory(self) -> tuple[MemoryRegion, ...]:
        return (
            MemoryRegion("flash", 0, self.flash_size),
            MemoryRegion("sram", 0x20000000, self.sram_size),
        )

    @property
    def devices(self) -> tuple[Device, ...]:
        return (self.scs, self.uart)

    @property
    def serial(self) -> tuple[SerialPort, ...]:
        return (self.uart,)

    def reset(self, machine: Machine, program: Program) -> None:
        """As the Cortex-M3 leaves reset: SP and PC from the vector table at 0 (VTOR 0),
        Thread mode, privileged, main stack (and Z set, as in QEMU)."""
        self.machine = machine
        self.core = MachineCore(machine, [(r.base, r.base + r.size) for r in self.memory])
        self.scs.machine = machine
        machine.on_syscall = self._exception_exit
        sp, pc = struct.unpack("<II", machine.read(0, 8))
        machine.set_reg("msp", sp & ~3)
        machine.set_reg("control", 0)
        machine.set_reg("xpsr", XPSR_T | XPSR_Z)  # QEMU keeps Z inverted, reset to 0: Z set
        if not pc & 1:
            self.bus.fail(f"reset vector {pc:#x} has bit 0 clear (INVSTATE, not modelled)")
        machine.set_reg("pc", pc | 1)

    def _exception_exit(self, machine: Machine) -> None:
        """Unicorn raised the exception exit of a branch to EXC_RETURN: perform it."""
        core = self._core()
        excret = core.reg("pc") | (1 if core.reg("xpsr") & XPSR_T else 0)
        try:
            exception_return(core, self.nvic, excret, self.scs.regs.vtor, self.scs.regs.ccr)
        except NotModelled as err:
            self.bus.fail(f"{err} at icount {machine.icount} (not modelled)")

    def take_interrupt(self, machine: Machine) -> int | None:
        if not self.nvic.pending:
            return None
        core = self._core()
        number = self.nvic.takeable(*masks(core))
        if number is None:
            return None
        try:
            take_exception(
                core, self.nvic, number, self.scs.regs.vtor, self.scs.regs.ccr, core.reg("pc")
            )
        except NotModelled as err:
            self.bus.fail(f"{err} (not modelled)")
            return None
        return number

    def take_trap(self, machine: Machine, trap: Trap) -> int | None:
        """Synchronous exceptions as QEMU's NVIC takes them: svc enters SVCall (returning
        after it), an undefined instruction or a misaligned exclusive a UsageFault, bkpt the
        DebugMonitor (never enabled: DEMCR.MON_EN cannot be set, so HardFault), a fetch from an
        execute-never region a MemManage fault; each escalates to HardFault (HFSR.FORCED)
        when it cannot preempt (B1.5.15). Accesses to addresses with nothing there stop the
        run: QEMU reads 0 and ignores writes there (and executes zeros), the Cortex-M3 bus
        faults; ttdbg does neither silently."""
        core = self._core()
        regs = self.scs.regs
        pc, intno = trap.pc, trap.intno
        return_address = pc
        status = 0
        if intno == EXCP_SWI:
            number, return_address, signal = SVCALL, pc + 2, SIGTRAP
        elif intno == UNDECODED:
            number, status, signal = USAGEFAULT, CFSR_UNDEFINSTR, SIGILL
        elif intno == EXCP_BKPT:
            number, signal = DEBUGMONITOR, SIGTRAP
        elif intno == EXCP_UNALIGNED:
            number, status, signal = USAGEFAULT, CFSR_UNALIGNED, SIGBUS
        elif intno in (BAD_FETCH, EXCP_PREFETCH_ABORT) and _execute_never(pc):
            number, status, signal = MEMMANAGE, CFSR_IACCVIOL, SIGSEGV
        elif intno in (BAD_READ, BAD_WRITE, BAD_FETCH):
            access = {BAD_READ: "read of", BAD_WRITE: "write of", BAD_FETCH: "jump to"}[intno]
            self.bus.guest_fault(
                SIGSEGV,
                f"{access} {trap.size} bytes at {trap.address:#x}, where machine {self.name} "
                "has no memory or device (QEMU's model reads 0, ignores writes and executes "
                "zeros there; a Cortex-M3 takes a BusFault)",
            )
            return None
        else:
            return None
        regs.cfsr |= status
        priority = self.nvic.execution_priority(*masks(core))
        if not self.nvic.is_enabled(number) or self.nvic.group_priority(number) >= priority:
            if self.nvic.group_priority(HARDFAULT) >= priority:
                # QEMU aborts here ("Lockup: can't escalate"); the CPU would lock up.
                self.bus.guest_fault(
                    signal,
                    f"lockup: {_exception_name(number)} cannot escalate to HardFault "
                    f"(execution priority {priority})",
                )
                return None
            number = HARDFAULT
            regs.hfsr |= HFSR_FORCED
        try:
            take_exception(core, self.nvic, number, regs.vtor, regs.ccr, return_address)
        except NotModelled as err:
            self.bus.fail(f"{err} (not modelled)")
            return None
        return number

    def checked(self, insns: list[tuple[int, int, str, str]], code: bytes) -> list[int]:
        """ldrd/strd and ldm/stm (not on sp, which is always word-aligned): QEMU's v7-M
        faults them when not word-aligned; Unicorn does not."""
        return [
            addr
            for addr, _size, mnem, ops in insns
            if mnem in ("ldrd", "strd")
            or (mnem.startswith(("ldm", "stm")) and not ops.startswith("sp"))
        ]

    def check(self, machine: Machine, pc: int) -> Trap | None:
        first, second = struct.unpack("<HH", machine.read(pc, 4))
        if first >> 12 == 0xC or (first & 0xFE40 == 0xE800 and first & 0x0180 in (0x80, 0x100)):
            # LDM/STM: T1 (1100 L Rn reglist), T2 IA and DB (1110 100 01/10 0 W L Rn).
            rn = (first >> 8) & 7 if first >> 12 == 0xC else first & 0xF
            base = machine.reg(_RN[rn]) if rn < 13 else 0
            return Trap(EXCP_UNALIGNED, pc, base, 4) if base & 3 else None
        # LDRD/STRD (immediate), T1: 1110 100P U1WL Rn | Rt Rt2 imm8 (P = W = 0: exclusives).
        if first & 0xFE40 != 0xE840 or not first & 0x120:
            return None
        rn = first & 0xF
        if rn == 15:
            return None  # literal: word-aligned by construction
        base = machine.reg(_RN[rn])
        offset = (second & 0xFF) << 2
        address = (base + (offset if first & 0x80 else -offset)) if first & 0x100 else base
        return Trap(EXCP_UNALIGNED, pc, address & 0xFFFFFFFF, 8) if address & 3 else None

    def wakes(self, machine: Machine) -> bool:
        # WFI wakes on an exception that would preempt were PRIMASK clear (B1.5.19).
        if not self.nvic.pending:
            return False
        _primask, faultmask, basepri = masks(self._core())
        return self.nvic.takeable(0, faultmask, basepri) is not None

    def _core(self) -> MachineCore:
        assert self.core is not None, "the board is used before reset"
        return self.core

    def any_pending(self) -> bool:
        # Pending and enabled: a disabled interrupt can never be taken, whatever is unmasked.
        return self.nvic.next_pending() is not None

    def pending(self) -> list[str]:
        return [_exception_name(n) for n in sorted(self.nvic.pending)]

    def interrupt_name(self, number: int) -> str:
        return _exception_name(number)

    def load(self, state: DeviceState) -> None:
        super().load(state)
        # The UART's line is derived state: the NVIC keeps it through snapshots itself.


def _execute_never(address: int) -> bool:
    """The default memory map's execute-never regions (B3.1): peripherals, devices, system."""
    return 0x40000000 <= address < 0x60000000 or address >= 0xA0000000


def _exception_name(number: int) -> str:
    if number >= FIRST_IRQ:
        irq = number - FIRST_IRQ
        return f"IRQ {irq} (uart0)" if irq == UART0_IRQ else f"IRQ {irq}"
    names = {
        2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 11: "SVCall",
        12: "DebugMonitor", 14: "PendSV", 15: "SysTick",
    }  # fmt: skip
    return names.get(number, f"exception {number}")


# QEMU 7.2's `info mtree` for both boards, less what is modelled here (UART0, the SCS).
_QEMU_DEVICES = (
    (0x22000000, 0x2000000, "the SRAM bit-band alias"),
    (0x40000000, 0x1000, "the watchdog"),
    (0x40002000, 0x1000, "I2C 0 (unimplemented)"),
    (0x40004000, 0x4000, "GPIO ports A-D"),
    (0x40008000, 0x1000, "the SSI"),
    (0x4000D000, 0x1000, "UART1"),
    (0x40020000, 0x2000, "I2C"),
    (0x40024000, 0x1000, "GPIO port E"),
    (0x40028000, 0x1000, "PWM (unimplemented)"),
    (0x4002C000, 0x2000, "the QEI (unimplemented)"),
    (0x40030000, 0x3000, "general-purpose timers 0-2"),
    (0x40038000, 0x1000, "the ADC"),
    (0x4003C000, 0x1000, "the analogue comparator (unimplemented)"),
    (0x400FC000, 0x2000, "hibernation and flash control (unimplemented)"),
    (0x400FE000, 0x1000, "system control (SSYS)"),
    (0x42000000, 0x2000000, "the peripheral bit-band alias"),
    (0xE0000000, 0x100000, "the private peripheral bus (RAZ/WI outside the SCS)"),
)


class Lm3s6965evb(Stellaris):
    """qemu-system-arm -M lm3s6965evb: LM3S6965, 256 KiB flash, 64 KiB SRAM."""

    name = "lm3s6965evb"
    qemu_devices = (
        *_QEMU_DEVICES,
        (0x4000E000, 0x1000, "UART2"),
        (0x40025000, 0x2000, "GPIO ports F-G"),
        (0x40033000, 0x1000, "general-purpose timer 3"),
        (0x40048000, 0x1000, "the Ethernet controller"),
    )
    description = "Stellaris LM3S6965 (Cortex-M3): flash 256K at 0, SRAM 64K, UART0, NVIC, SysTick"
    flash_size = 256 << 10
    sram_size = 64 << 10


class Lm3s811evb(Stellaris):
    """qemu-system-arm -M lm3s811evb: LM3S811, 64 KiB flash, 8 KiB SRAM."""

    name = "lm3s811evb"
    qemu_devices = _QEMU_DEVICES
    description = "Stellaris LM3S811 (Cortex-M3): flash 64K at 0, SRAM 8K, UART0, NVIC, SysTick"
    flash_size = 64 << 10
    sram_size = 8 << 10
