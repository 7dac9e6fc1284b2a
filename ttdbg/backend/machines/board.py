"""What a firmware machine is made of: memory regions, devices, an interrupt path, a clock.

A `Board` is one machine QEMU users know by name (`virt`, `lm3s6965evb`): its memory map,
the devices it models, how the CPU enters an interrupt and which instructions can make a
pending interrupt deliverable. Devices see the rest of the machine only through a `Bus`
(the firmware platform implements it), so they hold plain state and nothing else: their
`state()` is what snapshots keep and `load()` puts back.

Determinism rule: a device changes interrupt lines only (a) inside an MMIO access, (b) at a
deadline it announced with `deadline()` or (c) when the bus delivers serial input. After (a)
it calls `bus.interrupts_changed()`; the platform then rechecks at the end of the translated
block (the next instruction that ends one, which does not depend on where runs stop), and at
once for (b) and (c), so record and replay enter every interrupt at the same icount.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ttdbg.pages import PERM_R, PERM_W, PERM_X

from ..arch import Arch
from ..loader import Program
from ..machine import Machine

RWX = PERM_R | PERM_W | PERM_X
DeviceState = dict[str, Any]  # plain data: ints, strings, lists, dicts (JSON-like)


@dataclass(frozen=True)
class MemoryRegion:
    """RAM or flash the board maps at reset (zero-filled; the ELF is loaded into it)."""

    name: str
    base: int
    size: int
    perms: int = RWX


class Bus(Protocol):
    """The machine as a device sees it (the firmware platform provides it)."""

    def icount(self) -> int:
        """The icount of the instruction making the current access (or of the position,
        outside an access): device timing is a function of it."""
        ...

    def ns(self) -> int:
        """Virtual nanoseconds at `icount()`."""
        ...

    def ticks(self, hz: int) -> int:
        """A counter of `hz` ticks per virtual second at `icount()`."""
        ...

    def icount_for_ticks(self, ticks: int, hz: int) -> int:
        """The first icount at which a `hz` counter reads `ticks` (for `deadline`)."""
        ...

    def interrupts_changed(self) -> None:
        """A device changed an interrupt line during an MMIO access: recheck."""
        ...

    def output(self, port: int, data: bytes) -> None:
        """The guest wrote `data` to serial port `port` (stdout while recording)."""
        ...

    def finish(self, status: int, why: str) -> None:
        """The machine powered off or reset (sifive_test, PSCI SYSTEM_OFF, SYSRESETREQ):
        the recording ends with this exit status."""
        ...

    def fail(self, message: str) -> None:
        """Stop the recording with `message` (an access the model cannot answer)."""
        ...

    def guest_fault(self, signal: int, detail: str) -> None:
        """The trap being taken has nowhere to go (a Cortex-M lockup): the run stops at the
        trapping instruction with a guest fault, which gdb sees as `signal`."""
        ...

    def wait_for_interrupt(self, what: str) -> None:
        """From an instruction being performed (PSCI CPU_SUSPEND): it waits for an interrupt
        as wfi does (`what` names it if nothing can ever end the wait); the caller retires it."""
        ...

    def instruction_access(self) -> AbstractContextManager[None]:
        """Around a device access made from an instruction hook rather than MMIO (a system
        register, a hypervisor call): `icount()` is that instruction's, as in MMIO."""
        ...


class Device(ABC):
    """One memory-mapped peripheral at [base, base + size)."""

    name: ClassVar[str]

    def __init__(self, bus: Bus, base: int, size: int) -> None:
        self.bus = bus
        self.base = base
        self.size = size

    @abstractmethod
    def read(self, offset: int, size: int) -> int:
        """The value a `size`-byte load at `base + offset` returns."""

    @abstractmethod
    def write(self, offset: int, size: int, value: int) -> None:
        """A `size`-byte store of `value` at `base + offset`."""

    @abstractmethod
    def state(self) -> DeviceState:
        """Everything that defines the device now, as plain data."""

    @abstractmethod
    def load(self, state: DeviceState) -> None:
        """Become exactly `state` (from `state()`); KeyError/TypeError/ValueError if bad."""

    def deadline(self) -> int | None:
        """The icount at which the device changes by itself next (a timer), or None."""
        return None

    def at_deadline(self) -> None:
        """Called at (or after) the icount `deadline()` named: raise what is due."""
        return None

    def registers(self) -> dict[str, int]:
        """Its registers by name, as a peripherals view shows them (no side effects)."""
        return {}


@dataclass(frozen=True)
class Trap:
    """A synchronous exception: the instruction at `pc` raised the emulator's exception
    `intno`; `UNDECODED` when the emulator refused the instruction, `BAD_READ`/`BAD_WRITE`/
    `BAD_FETCH` for an access to `address` (`size` bytes) that no memory or device answers
    (for a fetch, `pc` is that address)."""

    intno: int
    pc: int
    address: int = 0
    size: int = 0


class SerialPort(Protocol):
    """A UART's receive side, as the platform feeds it."""

    def rx_room(self) -> int:
        """How many bytes the receive FIFO can take now."""
        ...

    def receive(self, data: bytes) -> None:
        """Put `data` (at most `rx_room()` bytes) into the FIFO and raise its interrupt."""
        ...


class Board(ABC):
    """One machine by QEMU's name: memory map, devices, interrupt entry, reset state."""

    name: ClassVar[str]  # QEMU's -M name
    arch_name: ClassVar[str]  # the ELF's architecture ("riscv64", "aarch64", "arm")
    cpus: ClassVar[tuple[str, ...]]  # accepted --cpu names; the first is the default
    description: ClassVar[str]

    def __init__(self, bus: Bus, cpu: str) -> None:
        self.bus = bus
        self.cpu = cpu

    @property
    @abstractmethod
    def arch(self) -> Arch:
        """The CPU description: registers (with the system registers snapshots must keep and
        gdb shows), Unicorn and capstone modes."""

    @property
    @abstractmethod
    def memory(self) -> tuple[MemoryRegion, ...]: ...

    @property
    @abstractmethod
    def devices(self) -> tuple[Device, ...]: ...

    @property
    @abstractmethod
    def serial(self) -> tuple[SerialPort, ...]:
        """The serial ports, by port number (stdin feeds port 0)."""

    @abstractmethod
    def reset(self, machine: Machine, program: Program) -> None:
        """The CPU as QEMU leaves it after loading `program` as -kernel (pc, mode, sp...)."""

    @abstractmethod
    def take_interrupt(self, machine: Machine) -> int | None:
        """If an interrupt is pending and the CPU accepts it now, enter it (as the
        architecture does: save the pc and mode, jump to the vector) and return its number;
        else None. Called only between instructions."""

    # Address ranges where QEMU's model of the board has a device ttdbg does not model:
    # (base, size, name). An access there stops the run naming the device; an access to an
    # address in none of these, in no memory and no modelled device, is a bus error the CPU
    # takes as the board's QEMU model does (`take_trap` with BAD_READ/BAD_WRITE/BAD_FETCH).
    qemu_devices: ClassVar[tuple[tuple[int, int, str], ...]] = ()
    # The emulator's exception numbers raised for a fetch the CPU refuses (Cortex-M: execute
    # never): the trap's pc is the address fetched, the branch to it retired.
    fetch_faults: ClassVar[frozenset[int]] = frozenset()

    def qemu_device(self, address: int) -> str | None:
        """The name of the unmodelled QEMU device at `address`, or None."""
        for base, size, name in self.qemu_devices:
            if base <= address < base + size:
                return name
        return None

    def take_trap(self, machine: Machine, trap: Trap) -> int | None:
        """Enter the guest's handler for a synchronous exception as the architecture does and
        return the exception's number (mcause, the exception number), or None when this
        board does not model it (the recording stops naming it)."""
        return None

    @abstractmethod
    def wakes(self, machine: Machine) -> bool:
        """Whether an interrupt is pending that ends a wait-for-interrupt (wfi wakes on a
        pending enabled source even with interrupts masked)."""

    def any_pending(self) -> bool:
        """Whether any interrupt is pending at the CPU, masked or not (cheap: no registers).
        When False the platform skips a recheck after an unmasking instruction; the default
        (always True) is never wrong, only slower."""
        return True

    @abstractmethod
    def pending(self) -> list[str]:
        """The interrupts pending now, by name ("IRQ 33 (uart)"), for `monitor info replay`."""

    def interrupt_name(self, number: int) -> str:
        """How front-ends name interrupt `number` ("IRQ 33", "machine timer")."""
        return f"IRQ {number}"

    def unmasks(self, mnem: str, ops: str) -> bool:
        """Whether the instruction (capstone mnemonic and operands) may let the CPU accept a
        pending interrupt it refused before (csrw mstatus, mret, msr daifclr, cpsie...). The
        platform rechecks after each; all of them end their translated block."""
        return False

    def answers(self, mnem: str, ops: str) -> bool:
        """Whether the board performs the instruction itself, in the emulator's place (a
        CSR access to state the board keeps: RISC-V mip)."""
        return False

    def answer(self, machine: Machine, pc: int) -> None:
        """Perform the instruction at `pc` that `answers` named; the platform retires it."""
        raise NotImplementedError(f"{type(self).__name__} answers no instruction")

    def checked(self, insns: list[tuple[int, int, str, str]], code: bytes) -> list[int]:
        """Of a translated block's instructions (address, size, capstone mnemonic, operands;
        `code` is the block's bytes, from the first one's address), the addresses of those
        `check` looks at before they run: traps QEMU raises that the emulator does not
        (alignment it does not enforce)."""
        return []

    def check(self, machine: Machine, pc: int) -> Trap | None:
        """The trap the instruction at `pc` raises instead of running, or None."""
        return None

    def waits(self, mnem: str, ops: str) -> bool:
        """Whether the instruction waits for an interrupt (wfi): virtual time skips to the
        next deadline."""
        return mnem == "wfi"

    def state(self) -> DeviceState:
        """Every device's state, by device name (board state beyond devices: override)."""
        return {dev.name: dev.state() for dev in self.devices}

    def load(self, state: DeviceState) -> None:
        for dev in self.devices:
            dev.load(state[dev.name])

    def deadline(self) -> int | None:
        """The earliest device deadline (an icount), or None."""
        timed = self._timed
        if len(timed) == 1:  # most boards: one timer (asked several times per interrupt)
            return timed[0].deadline()
        due = [d for d in (dev.deadline() for dev in timed) if d is not None]
        return min(due) if due else None

    @functools.cached_property
    def _timed(self) -> tuple[Device, ...]:
        """The devices that have deadlines of their own (the rest never do)."""
        return tuple(d for d in self.devices if type(d).deadline is not Device.deadline)

    def at_deadline(self) -> None:
        for dev in self._timed:
            due = dev.deadline()
            if due is not None and due <= self.bus.icount():
                dev.at_deadline()

    def peripherals(self) -> dict[str, dict[str, int]]:
        """Each device's registers, for a peripherals view."""
        return {dev.name: dev.registers() for dev in self.devices}
