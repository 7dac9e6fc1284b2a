"""The GICv2 interrupt controller of QEMU's AArch64 `virt`: one CPU, 288 interrupts, no
security extensions; a distributor and a CPU interface over one state, as QEMU's arm_gic.

Registers not listed here stop the recording with their address.
"""

from __future__ import annotations

from collections.abc import Callable

from .board import Bus, Device, DeviceState

NUM_IRQ = 288  # QEMU virt: 256 SPIs + 32 internal
SGIS, INTERNAL = 16, 32
SPURIOUS, GROUP1_NOT_ACKED = 1023, 1022
IDLE_PRIORITY = 0x100  # running priority with nothing active

DIST_IDS = {0xFD0: 0x04, 0xFE0: 0x90, 0xFE4: 0xB4, 0xFE8: 0x2B, 0xFF0: 0x0D, 0xFF4: 0xF0,
            0xFF8: 0x05, 0xFFC: 0xB1}  # fmt: skip
DIST_IDS.update({off: 0 for off in (0xFD4, 0xFD8, 0xFDC, 0xFEC)})
GICD_TYPER = NUM_IRQ // 32 - 1  # one CPU, no security extensions
GICD_IIDR, GICC_IIDR = 0x43B, 0x0002043B
CTLR_EN_GRP0, CTLR_EN_GRP1, CTLR_ACK_CTL, CTLR_FIQ_EN, CTLR_CBPR = 1, 2, 4, 8, 16
CTLR_EOIMODE = 1 << 9
GICC_CTLR_MASK = 0x21F

# Distributor bitmap registers: (first offset, what a set bit in a write does).
_BITMAPS = {
    0x080: "group",
    0x100: "set_enable",
    0x180: "clear_enable",
    0x200: "set_pending",
    0x280: "clear_pending",
    0x300: "set_active",
    0x380: "clear_active",
}


class GicState:
    """Everything the distributor and the CPU interface share (snapshots keep it)."""

    def __init__(self) -> None:
        self.dist_ctlr = 0
        self.enabled: set[int] = set(range(SGIS))  # SGIs are always enabled (RAO/WI)
        self.latched: set[int] = set()  # pending by an edge or by ISPENDR
        self.active: set[int] = set()
        self.level: set[int] = set()  # lines driven high
        self.group1: set[int] = set()
        self.edge: set[int] = set(range(SGIS))
        self.priority = bytearray(NUM_IRQ)
        self.cpu_ctlr = 0
        self.pmr = 0
        self.bpr = 0
        self.abpr = 1
        self.apr = 0  # active priorities, group 0 (bit = preemption level)
        self.nsapr = 0  # active priorities, group 1


class Gic:
    """The controller's behaviour; `Distributor` and `CpuInterface` are its two windows.
    `outputs(irq, fiq)` receives the CPU's interrupt lines after every change."""

    def __init__(self, bus: Bus, outputs: Callable[[bool, bool], None]) -> None:
        self.bus = bus
        self.s = GicState()
        self._outputs = outputs
        self.current = SPURIOUS  # the highest pending interrupt above the priority mask
        self.irq_line = False
        self.fiq_line = False

    # -- the lines devices drive -----------------------------------------------------------

    def set_level(self, irq: int, high: bool) -> None:
        s = self.s
        if high == (irq in s.level):
            return
        if high:
            s.level.add(irq)
            if irq in s.edge:
                s.latched.add(irq)  # a level interrupt is pending while its line is high
        else:
            s.level.discard(irq)
        self.update()

    # -- QEMU's gic_update -----------------------------------------------------------------

    def pending(self, irq: int) -> bool:
        s = self.s
        return irq in s.latched or (irq not in s.edge and irq in s.level)

    def _candidates(self) -> set[int]:
        s = self.s
        return ((s.latched | (s.level - s.edge)) & s.enabled) - s.active

    def group_priority(self, irq: int, prio: int) -> int:
        s = self.s
        bpr = s.abpr - 1 if irq in s.group1 and not s.cpu_ctlr & CTLR_CBPR else s.bpr
        return prio & (0xFF << ((bpr & 7) + 1)) & 0xFF

    def running_priority(self) -> int:
        bits = self.s.apr | self.s.nsapr
        if not bits:
            return IDLE_PRIORITY
        return ((bits & -bits).bit_length() - 1) << 1

    def update(self) -> None:
        s = self.s
        self.current = SPURIOUS
        irq_level = fiq_level = False
        if s.dist_ctlr & 3 and s.cpu_ctlr & 3:
            best, best_prio = SPURIOUS, IDLE_PRIORITY
            for irq in sorted(self._candidates()):
                if s.priority[irq] < best_prio:
                    best, best_prio = irq, s.priority[irq]
            if best_prio < s.pmr:
                self.current = best
                if best_prio < self.running_priority():
                    group = 1 if best in s.group1 else 0
                    if s.dist_ctlr >> group & 1 and s.cpu_ctlr >> group & 1:
                        if group == 0 and s.cpu_ctlr & CTLR_FIQ_EN:
                            fiq_level = True
                        else:
                            irq_level = True
        self.irq_line, self.fiq_line = irq_level, fiq_level
        self._outputs(irq_level, fiq_level)

    # -- acknowledge and end of interrupt --------------------------------------------------

    def highest(self) -> int:
        """GICC_HPPIR: the interrupt an acknowledge would return now."""
        irq = self.current
        if irq < NUM_IRQ and irq in self.s.group1 and not self.s.cpu_ctlr & CTLR_ACK_CTL:
            return GROUP1_NOT_ACKED
        return irq

    def acknowledge(self) -> int:
        s = self.s
        irq = self.current
        if irq == SPURIOUS or s.priority[irq] >= self.running_priority():
            return SPURIOUS
        if irq in s.group1 and not s.cpu_ctlr & CTLR_ACK_CTL:
            return GROUP1_NOT_ACKED
        s.latched.discard(irq)  # a level interrupt stays pending while its line is high
        level = self.group_priority(irq, s.priority[irq]) >> 1
        if irq in s.group1:
            s.nsapr |= 1 << level
        else:
            s.apr |= 1 << level
        s.active.add(irq)
        self.update()
        return irq

    def end_of_interrupt(self, irq: int) -> None:
        s = self.s
        if irq >= NUM_IRQ or self.running_priority() == IDLE_PRIORITY:
            return  # a spurious ID, or nothing active: QEMU ignores it
        if irq in s.group1:
            s.nsapr &= s.nsapr - 1  # drop the highest active priority of the group
        else:
            s.apr &= s.apr - 1
        if not s.cpu_ctlr & CTLR_EOIMODE:
            s.active.discard(irq)
        self.update()

    def deactivate(self, irq: int) -> None:
        """GICC_DIR: only with EOImode set (else QEMU ignores it)."""
        if irq < NUM_IRQ and self.s.cpu_ctlr & CTLR_EOIMODE:
            self.s.active.discard(irq)
            self.update()

    # -- snapshots -------------------------------------------------------------------------

    def state(self) -> DeviceState:
        s = self.s
        return {
            "dist_ctlr": s.dist_ctlr,
            "enabled": sorted(s.enabled),
            "latched": sorted(s.latched),
            "active": sorted(s.active),
            "level": sorted(s.level),
            "group1": sorted(s.group1),
            "edge": sorted(s.edge),
            "priority": s.priority.hex(),
            "cpu": [s.cpu_ctlr, s.pmr, s.bpr, s.abpr, s.apr, s.nsapr],
        }

    def load(self, state: DeviceState) -> None:
        def irqs(key: str) -> set[int]:
            out = {int(i) for i in state[key]}
            if any(not 0 <= i < NUM_IRQ for i in out):
                raise ValueError(f"gic {key}: interrupt out of range")
            return out

        s = GicState()
        s.dist_ctlr = int(state["dist_ctlr"]) & 3
        s.enabled, s.latched, s.active = irqs("enabled"), irqs("latched"), irqs("active")
        s.level, s.group1, s.edge = irqs("level"), irqs("group1"), irqs("edge")
        s.priority = bytearray(bytes.fromhex(state["priority"]))
        if len(s.priority) != NUM_IRQ:
            raise ValueError("gic priorities: wrong count")
        s.cpu_ctlr, s.pmr, s.bpr, s.abpr, s.apr, s.nsapr = (int(v) for v in state["cpu"])
        self.s = s
        self.update()

    def registers(self) -> dict[str, int]:
        s = self.s
        return {
            "GICD_CTLR": s.dist_ctlr,
            "GICC_CTLR": s.cpu_ctlr,
            "GICC_PMR": s.pmr,
            "GICC_RPR": min(self.running_priority(), 0xFF),
            "GICC_HPPIR": self.highest(),
            "pending": sum(1 << i for i in range(64) if self.pending(i)),
            "active": sum(1 << i for i in s.active if i < 64),
        }


class Distributor(Device):
    """GICD at 0x08000000."""

    name = "gicd"

    def __init__(self, bus: Bus, base: int, gic: Gic) -> None:
        super().__init__(bus, base, 0x10000)
        self.gic = gic

    def read(self, offset: int, size: int) -> int:
        try:
            return _by_bytes(offset, size, self._read_byte)
        except _Unmodelled as err:
            self.bus.fail(f"GIC distributor register at {self.base + err.offset:#x} (not modelled)")
            return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if 0x400 <= offset < 0x400 + NUM_IRQ or 0x800 <= offset < 0x800 + NUM_IRQ:
            for i in range(size):  # byte-wide fields
                self._write_byte(offset + i, value >> (8 * i) & 0xFF)
        elif size == 4 and not offset & 3:
            self._write_word(offset, value)
        else:
            self.bus.fail(f"{size}-byte GIC distributor write at {self.base + offset:#x} "
                          "(not modelled)")  # fmt: skip
            return
        self.gic.update()
        self.bus.interrupts_changed()

    def _read_byte(self, offset: int) -> int | None:
        s, gic = self.gic.s, self.gic
        word, shift = offset & ~3, 8 * (offset & 3)
        if word == 0x000:
            return s.dist_ctlr >> shift & 0xFF
        if word == 0x004:
            return GICD_TYPER >> shift & 0xFF
        if word == 0x008:
            return GICD_IIDR >> shift & 0xFF
        if 0x080 <= offset < 0x400 and (offset - 0x080) % 0x80 < NUM_IRQ // 8:
            kind = _BITMAPS[0x080 + (offset - 0x080) // 0x80 * 0x80]
            first = (offset % 0x80) * 8
            members: Callable[[int], bool] = {
                "group": lambda i: i in s.group1,
                "set_enable": lambda i: i in s.enabled,
                "clear_enable": lambda i: i in s.enabled,
                "set_pending": gic.pending,
                "clear_pending": gic.pending,
                "set_active": lambda i: i in s.active,
                "clear_active": lambda i: i in s.active,
            }[kind]
            return sum(1 << b for b in range(8) if members(first + b))
        if 0x400 <= offset < 0x400 + NUM_IRQ:
            return s.priority[offset - 0x400]
        if 0x800 <= offset < 0x800 + NUM_IRQ:
            return 0  # one CPU: the targets are RAZ/WI
        if 0xC00 <= offset < 0xC00 + NUM_IRQ // 4:
            first = (offset - 0xC00) * 4
            return sum(2 << (2 * k) for k in range(4) if first + k in s.edge)
        if 0xF10 <= offset < 0xF30:  # CPENDSGIR / SPENDSGIR: the one source CPU is bit 0
            return 1 if (offset & 0xF) in s.latched else 0
        if word in DIST_IDS:
            return DIST_IDS[word] >> shift & 0xFF
        return None

    def _write_byte(self, offset: int, value: int) -> None:
        if 0x400 <= offset < 0x400 + NUM_IRQ:
            self.gic.s.priority[offset - 0x400] = value

    def _write_word(self, offset: int, value: int) -> None:
        s = self.gic.s
        if offset == 0x000:
            s.dist_ctlr = value & 3
        elif 0x080 <= offset < 0x400 and (offset - 0x080) % 0x80 < NUM_IRQ // 8:
            kind = _BITMAPS[0x080 + (offset - 0x080) // 0x80 * 0x80]
            first = (offset % 0x80) * 8
            bits = {first + b for b in range(32) if value >> b & 1}
            self._apply(kind, first, bits)
        elif 0xC00 <= offset < 0xC00 + NUM_IRQ // 4:
            first = (offset - 0xC00) * 4
            if first < SGIS:
                return  # SGIs are edge-triggered, read-only
            for k in range(16):
                if value >> (2 * k + 1) & 1:
                    s.edge.add(first + k)
                else:
                    s.edge.discard(first + k)
        elif offset == 0xF00:
            self._sgi(value)
        elif 0xF10 <= offset < 0xF30:
            for k in range(4):
                sgi = (offset & 0xF) + k
                if value >> (8 * k) & 1:
                    (s.latched.discard if offset < 0xF20 else s.latched.add)(sgi)
        elif 0x800 <= offset < 0x800 + NUM_IRQ or offset in (0x004, 0x008) or offset in DIST_IDS:
            return  # read-only or RAZ/WI
        else:
            self.bus.fail(f"GIC distributor register at {self.base + offset:#x} (not modelled)")

    def _apply(self, kind: str, first: int, bits: set[int]) -> None:
        s = self.gic.s
        if kind == "group":
            s.group1 = (s.group1 - set(range(first, first + 32))) | bits
        elif kind == "set_enable":
            s.enabled |= bits
        elif kind == "clear_enable":
            s.enabled -= {i for i in bits if i >= SGIS}
        elif kind == "set_pending":
            s.latched |= {i for i in bits if i >= SGIS}
        elif kind == "clear_pending":
            s.latched -= {i for i in bits if i >= SGIS}
        elif kind == "set_active":
            s.active |= bits
        else:
            s.active -= bits

    def _sgi(self, value: int) -> None:
        sgi, targets, filt = value & 0xF, value >> 16 & 0xFF, value >> 24 & 3
        if (filt == 0 and targets & 1) or filt == 2:
            self.gic.s.latched.add(sgi)
        elif filt == 3:
            self.bus.fail(f"GICD_SGIR with the reserved target filter 3 at {self.base + 0xF00:#x}")

    def state(self) -> DeviceState:
        return self.gic.state()

    def load(self, state: DeviceState) -> None:
        self.gic.load(state)

    def registers(self) -> dict[str, int]:
        return self.gic.registers()


class CpuInterface(Device):
    """GICC at 0x08010000 (GICC_DIR at +0x1000)."""

    name = "gicc"

    def __init__(self, bus: Bus, base: int, gic: Gic) -> None:
        super().__init__(bus, base, 0x2000)
        self.gic = gic

    def _refuse(self, what: str, offset: int, size: int) -> int:
        self.bus.fail(f"{size}-byte GIC CPU interface {what} at {self.base + offset:#x} "
                      "(not modelled)")  # fmt: skip
        return 0

    def read(self, offset: int, size: int) -> int:
        gic, s = self.gic, self.gic.s
        if size != 4 or offset & 3:
            return self._refuse("read", offset, size)
        if offset == 0x0C:
            value = gic.acknowledge()
            self.bus.interrupts_changed()
            return value
        simple: dict[int, Callable[[], int]] = {
            0x00: lambda: s.cpu_ctlr,
            0x04: lambda: s.pmr,
            0x08: lambda: s.bpr,
            0x14: lambda: min(gic.running_priority(), 0xFF),
            0x18: gic.highest,
            0x1C: lambda: s.abpr,
            0xFC: lambda: GICC_IIDR,
        }
        if offset in simple:
            return simple[offset]()
        if 0xD0 <= offset < 0xF0:  # APR0-3 / NSAPR0-3: 128 preemption levels
            bits = s.apr if offset < 0xE0 else s.nsapr
            return bits >> (8 * (offset & 0xC)) & 0xFFFFFFFF
        return self._refuse("read", offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        gic, s = self.gic, self.gic.s
        if size != 4 or offset & 3:
            self._refuse("write", offset, size)
            return
        if offset == 0x00:
            s.cpu_ctlr = value & GICC_CTLR_MASK
        elif offset == 0x04:
            s.pmr = value & 0xFF
        elif offset == 0x08:
            s.bpr = value & 7
        elif offset == 0x10:
            gic.end_of_interrupt(value & 0x3FF)
        elif offset == 0x1C:
            s.abpr = max(value & 7, 1)
        elif offset == 0x1000:
            gic.deactivate(value & 0x3FF)
        elif offset in (0x0C, 0x14, 0x18, 0xFC):
            return  # read-only
        else:
            self._refuse("write", offset, size)
            return
        gic.update()
        self.bus.interrupts_changed()

    def state(self) -> DeviceState:
        return {}  # the distributor's state holds the whole controller

    def load(self, state: DeviceState) -> None:
        pass


def _by_bytes(offset: int, size: int, read_byte: Callable[[int], int | None]) -> int:
    value = 0
    for i in range(size):
        byte = read_byte(offset + i)
        if byte is None:
            raise _Unmodelled(offset + i)
        value |= byte << (8 * i)
    return value


class _Unmodelled(Exception):
    """A read of a register the model does not have (the device turns it into a stop)."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset
