"""The RISC-V virt machine's own devices: CLINT (timer), PLIC (external interrupts), and the
sifive_test finisher."""

from __future__ import annotations

from collections.abc import Callable

from .board import Bus, Device, DeviceState

CLINT_HZ = 10_000_000  # QEMU virt's timebase-frequency
MSIP, MTIMECMP, MTIME = 0x0, 0x4000, 0xBFF8
MASK64 = (1 << 64) - 1


def _merge(old: int, offset: int, size: int, value: int) -> int:
    """`old` (64 bits) with the `size` bytes at byte `offset` replaced by `value`."""
    shift = 8 * offset
    mask = ((1 << (8 * size)) - 1) << shift
    return (old & ~mask) | ((value << shift) & mask)


class Clint(Device):
    """Core-local interruptor for hart 0: msip, mtimecmp, and mtime from the virtual clock."""

    name = "clint"

    def __init__(
        self, bus: Bus, base: int, timer: Callable[[bool], None], soft: Callable[[bool], None]
    ) -> None:
        super().__init__(bus, base, 0x10000)
        self._timer, self._soft = timer, soft
        self.mtimecmp = MASK64
        self.msip = 0
        self.mtime_offset = 0  # mtime written by the guest: mtime = ticks + offset
        self.timer_line = False

    def mtime(self) -> int:
        return (self.bus.ticks(CLINT_HZ) + self.mtime_offset) & MASK64

    def _set_timer(self, level: bool) -> None:
        self.timer_line = level
        self._timer(level)

    def read(self, offset: int, size: int) -> int:
        if MSIP <= offset < MSIP + 4:
            return self.msip
        if MTIMECMP <= offset < MTIMECMP + 8:
            return (self.mtimecmp >> (8 * (offset - MTIMECMP))) & ((1 << (8 * size)) - 1)
        if MTIME <= offset < MTIME + 8:
            return (self.mtime() >> (8 * (offset - MTIME))) & ((1 << (8 * size)) - 1)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if MSIP <= offset < MSIP + 4:
            self.msip = value & 1
            self._soft(bool(self.msip))
        elif MTIMECMP <= offset < MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - MTIMECMP, size, value)
            self._set_timer(self.mtime() >= self.mtimecmp)
        elif MTIME <= offset < MTIME + 8:
            now = self.mtime()
            self.mtime_offset = (_merge(now, offset - MTIME, size, value) - now) & MASK64
            self._set_timer(self.mtime() >= self.mtimecmp)
        else:
            return
        self.bus.interrupts_changed()

    def deadline(self) -> int | None:
        if self.timer_line or self.mtimecmp == MASK64:
            return None
        ticks = (self.mtimecmp - self.mtime_offset) & MASK64
        return self.bus.icount_for_ticks(ticks, CLINT_HZ)

    def at_deadline(self) -> None:
        self._set_timer(self.mtime() >= self.mtimecmp)

    def state(self) -> DeviceState:
        return {
            "mtimecmp": self.mtimecmp,
            "msip": self.msip,
            "mtime_offset": self.mtime_offset,
            "timer_line": self.timer_line,
        }

    def load(self, state: DeviceState) -> None:
        self.mtimecmp = int(state["mtimecmp"]) & MASK64
        self.msip = int(state["msip"]) & 1
        self.mtime_offset = int(state["mtime_offset"]) & MASK64
        self.timer_line = bool(state["timer_line"])

    def registers(self) -> dict[str, int]:
        return {"msip": self.msip, "mtimecmp": self.mtimecmp, "mtime": self.mtime()}


PLIC_SOURCES = 96  # QEMU virt's VIRT_IRQCHIP_NUM_SOURCES (sources 1..95)
PLIC_CONTEXTS = 2  # hart 0: M-mode (context 0) and S-mode (context 1)
PENDING, ENABLE, CONTEXT = 0x1000, 0x2000, 0x200000


class Plic(Device):
    """Platform-level interrupt controller with level-triggered sources and claim/complete."""

    name = "plic"

    def __init__(self, bus: Bus, base: int, outputs: tuple[Callable[[bool], None], ...]) -> None:
        super().__init__(bus, base, 0x4000000)
        self._outputs = outputs
        self.priority = [0] * PLIC_SOURCES
        self.level = [False] * PLIC_SOURCES  # the source lines as devices drive them
        self.pending = [False] * PLIC_SOURCES
        self.claimed = [False] * PLIC_SOURCES  # in service: not pending again until complete
        self.enable = [[False] * PLIC_SOURCES for _ in range(PLIC_CONTEXTS)]
        self.threshold = [0] * PLIC_CONTEXTS

    def set_level(self, source: int, level: bool) -> None:
        """A device drives source `source`'s line."""
        self.level[source] = level
        if level and not self.claimed[source]:
            self.pending[source] = True
        self._update()

    def _best(self, context: int) -> int:
        """The pending enabled source of highest priority above the threshold (0: none)."""
        best, best_prio = 0, self.threshold[context]
        for src in range(1, PLIC_SOURCES):
            if self.pending[src] and self.enable[context][src] and self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
        return best

    def _update(self) -> None:
        for context, output in enumerate(self._outputs):
            output(self._best(context) != 0)

    def read(self, offset: int, size: int) -> int:
        if offset < PENDING:
            src = offset // 4
            return self.priority[src] if src < PLIC_SOURCES else 0
        if offset < ENABLE:
            return self._bits(self.pending, (offset - PENDING) // 4)
        if offset < CONTEXT:
            context, word = divmod(offset - ENABLE, 0x80)
            return self._bits(self.enable[context], word // 4) if context < PLIC_CONTEXTS else 0
        context, reg = divmod(offset - CONTEXT, 0x1000)
        if context >= PLIC_CONTEXTS:
            return 0
        if reg == 0:
            return self.threshold[context]
        if reg == 4:  # claim
            src = self._best(context)
            if src:
                self.pending[src] = False
                self.claimed[src] = True
                self._update()
                self.bus.interrupts_changed()
            return src
        return 0

    @staticmethod
    def _bits(flags: list[bool], word: int) -> int:
        return sum(1 << i for i in range(32) if 32 * word + i < len(flags) and flags[32 * word + i])

    def write(self, offset: int, size: int, value: int) -> None:
        if offset < PENDING:
            src = offset // 4
            if 0 < src < PLIC_SOURCES:
                self.priority[src] = value & 7
        elif offset < ENABLE:
            return  # pending bits are read-only
        elif offset < CONTEXT:
            context, word = divmod(offset - ENABLE, 0x80)
            if context >= PLIC_CONTEXTS:
                return
            for i in range(32):
                src = 32 * (word // 4) + i
                if 0 < src < PLIC_SOURCES:
                    self.enable[context][src] = bool(value >> i & 1)
        else:
            context, reg = divmod(offset - CONTEXT, 0x1000)
            if context >= PLIC_CONTEXTS:
                return
            if reg == 0:
                self.threshold[context] = value & 7
            elif reg == 4 and 0 < value < PLIC_SOURCES and self.claimed[value]:  # complete
                self.claimed[value] = False
                if self.level[value]:
                    self.pending[value] = True
        self._update()
        self.bus.interrupts_changed()

    def state(self) -> DeviceState:
        return {
            "priority": list(self.priority),
            "level": list(self.level),
            "pending": list(self.pending),
            "claimed": list(self.claimed),
            "enable": [list(e) for e in self.enable],
            "threshold": list(self.threshold),
        }

    def load(self, state: DeviceState) -> None:
        def flags(values: list[object]) -> list[bool]:
            if len(values) != PLIC_SOURCES:
                raise ValueError("plic state with the wrong number of sources")
            return [bool(v) for v in values]

        self.priority = [int(p) & 7 for p in state["priority"]]
        if len(self.priority) != PLIC_SOURCES:
            raise ValueError("plic state with the wrong number of sources")
        self.level, self.pending = flags(state["level"]), flags(state["pending"])
        self.claimed = flags(state["claimed"])
        if len(state["enable"]) != PLIC_CONTEXTS or len(state["threshold"]) != PLIC_CONTEXTS:
            raise ValueError("plic state with the wrong number of contexts")
        self.enable = [flags(e) for e in state["enable"]]
        self.threshold = [int(t) & 7 for t in state["threshold"]]

    def output(self, context: int) -> bool:
        """Whether context `context`'s interrupt output is raised."""
        return self._best(context) != 0

    def registers(self) -> dict[str, int]:
        return {
            "pending": self._bits(self.pending, 0) | self._bits(self.pending, 1) << 32,
            "enable_m": self._bits(self.enable[0], 0) | self._bits(self.enable[0], 1) << 32,
            "threshold_m": self.threshold[0],
        }


FINISHER_FAIL, FINISHER_PASS, FINISHER_RESET = 0x3333, 0x5555, 0x7777


class SifiveTest(Device):
    """The test finisher: pass, fail with a code, or reset, each ending the recording as
    QEMU exits (reset too: ttdbg records one boot, like QEMU's -no-reboot)."""

    name = "sifive_test"

    def __init__(self, bus: Bus, base: int) -> None:
        super().__init__(bus, base, 0x1000)

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return
        kind, code = value & 0xFFFF, (value >> 16) & 0xFFFF
        if kind == FINISHER_PASS:
            self.bus.finish(0, "sifive_test: pass")
        elif kind == FINISHER_FAIL:
            self.bus.finish(code & 0xFF, f"sifive_test: fail with code {code}")
        elif kind == FINISHER_RESET:
            self.bus.finish(0, "sifive_test: reset")

    def state(self) -> DeviceState:
        return {}

    def load(self, state: DeviceState) -> None:
        pass
