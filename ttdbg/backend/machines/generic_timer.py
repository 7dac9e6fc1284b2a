"""The AArch64 generic timer at EL1: the system counter (from virtual time) and the EL1
physical and virtual timers, reached through system registers, as QEMU's gt_* helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .board import Bus, DeviceState

COUNTER_HZ = 62_500_000  # QEMU: one tick per 16 ns of QEMU_CLOCK_VIRTUAL
MASK64 = (1 << 64) - 1
CTL_ENABLE, CTL_IMASK, CTL_ISTATUS = 1, 2, 4
FAR_AWAY = 1 << 62  # a deadline past any icount a recording reaches: none


@dataclass
class _Timer:
    ctl: int = 0  # ENABLE and IMASK as written (ISTATUS is computed)
    cval: int = 0


class GenericTimer:
    """CNTPCT/CNTVCT and the CNTP_*/CNTV_* timers (CNTVOFF is 0: there is no EL2).

    `line(ppi, level)` drives the timers' outputs: PPI 30 (physical), 27 (virtual).
    """

    PPIS = {"p": 30, "v": 27}
    REGISTERS = (
        "cntfrq", "cntpct", "cntvct", "cntkctl",
        "cntp_ctl", "cntp_cval", "cntp_tval", "cntv_ctl", "cntv_cval", "cntv_tval",
    )  # fmt: skip

    def __init__(self, bus: Bus, line: Callable[[int, bool], None]) -> None:
        self.bus = bus
        self._line = line
        self.timers = {"p": _Timer(), "v": _Timer()}
        self.cntfrq = COUNTER_HZ  # writable at EL1 when EL1 is the highest EL; rate unchanged
        self.cntkctl = 0
        self.levels = {"p": False, "v": False}

    def count(self) -> int:
        return self.bus.ticks(COUNTER_HZ) & MASK64

    def _istatus(self, which: str) -> bool:
        t = self.timers[which]
        return bool(t.ctl & CTL_ENABLE) and self.count() >= t.cval

    def _update(self, which: str) -> None:
        t = self.timers[which]
        level = self._istatus(which) and not t.ctl & CTL_IMASK
        if level != self.levels[which]:
            self.levels[which] = level
            self._line(self.PPIS[which], level)

    # -- system registers --------------------------------------------------------------------

    def read(self, name: str) -> int:
        if name == "cntfrq":
            return self.cntfrq
        if name in ("cntpct", "cntvct"):
            return self.count()
        if name == "cntkctl":
            return self.cntkctl
        which, field = name[3], name[5:]
        t = self.timers[which]
        if field == "ctl":
            return t.ctl | (CTL_ISTATUS if self._istatus(which) else 0)
        if field == "cval":
            return t.cval
        return (t.cval - self.count()) & 0xFFFFFFFF  # tval

    def write(self, name: str, value: int) -> bool:
        """Store a write; False when the register is read-only (the counters)."""
        if name == "cntfrq":
            self.cntfrq = value & 0xFFFFFFFF
            return True
        if name == "cntkctl":
            self.cntkctl = value & 0x3FF
            return True
        if name in ("cntpct", "cntvct"):
            return False
        which, field = name[3], name[5:]
        t = self.timers[which]
        if field == "ctl":
            t.ctl = value & (CTL_ENABLE | CTL_IMASK)
        elif field == "cval":
            t.cval = value & MASK64
        else:  # tval: a signed 32-bit offset from now
            offset = (value & 0xFFFFFFFF) - ((value & 0x80000000) << 1)
            t.cval = (self.count() + offset) & MASK64
        self._update(which)
        return True

    # -- time --------------------------------------------------------------------------------

    def deadline(self) -> int | None:
        due = []
        for which, t in self.timers.items():
            if t.ctl & CTL_ENABLE and not t.ctl & CTL_IMASK and not self.levels[which]:
                at = self.bus.icount_for_ticks(t.cval, COUNTER_HZ)
                if at < FAR_AWAY:
                    due.append(at)
        return min(due) if due else None

    def at_deadline(self) -> None:
        for which in self.timers:
            self._update(which)

    # -- snapshots ---------------------------------------------------------------------------

    def state(self) -> DeviceState:
        return {
            "ctl": [self.timers["p"].ctl, self.timers["v"].ctl],
            "cval": [self.timers["p"].cval, self.timers["v"].cval],
            "cntfrq": self.cntfrq,
            "cntkctl": self.cntkctl,
            "levels": [self.levels["p"], self.levels["v"]],
        }

    def load(self, state: DeviceState) -> None:
        ctl, cval, levels = state["ctl"], state["cval"], state["levels"]
        if len(ctl) != 2 or len(cval) != 2 or len(levels) != 2:
            raise ValueError("generic timer state: two timers expected")
        for i, which in enumerate(("p", "v")):
            self.timers[which] = _Timer(int(ctl[i]) & 3, int(cval[i]) & MASK64)
            self.levels[which] = bool(levels[i])
        self.cntfrq = int(state["cntfrq"]) & 0xFFFFFFFF
        self.cntkctl = int(state["cntkctl"]) & 0x3FF

    def registers(self) -> dict[str, int]:
        return {name.upper(): self.read(name) for name in self.REGISTERS}
