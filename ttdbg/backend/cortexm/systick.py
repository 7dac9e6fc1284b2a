"""The ARMv7-M SysTick timer (B3.3), counting the processor clock in virtual time."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NotModelled

CSR_ENABLE, CSR_TICKINT, CSR_CLKSOURCE, CSR_COUNTFLAG = 1 << 0, 1 << 1, 1 << 2, 1 << 16
MAX_24 = 0xFFFFFF
CALIB = 10000  # what QEMU's SysTick reports (no reference clock skew information)


@dataclass
class SysTick:
    """SysTick driven by a cycle count (virtual time / the clock period).

    The counter decrements once per cycle while enabled; reaching 0 from 1 sets COUNTFLAG and
    (with TICKINT) pends the exception; the cycle after 0 reloads RVR. The value at any cycle
    is computed from where counting started, so nothing runs per cycle.
    """

    csr: int = 0
    rvr: int = 0
    # While enabled: the cycle counting (re)started at and the value it started from.
    start_cycle: int = 0
    start_value: int = 0
    stopped_value: int = 0  # the value while disabled
    flag_seen: int = 0  # cycle up to which COUNTFLAG has been read (cleared)
    flag_set: bool = False
    fired_until: int = 0  # cycle up to which wraps have raised the exception

    FIELDS = (
        "csr", "rvr", "start_cycle", "start_value", "stopped_value", "flag_seen", "flag_set",
        "fired_until",
    )  # fmt: skip

    def state(self) -> list[int]:
        return [int(getattr(self, name)) for name in self.FIELDS]

    def restore(self, values: object) -> None:
        if (
            not isinstance(values, list)
            or len(values) != len(self.FIELDS)
            or not all(isinstance(v, int) and 0 <= v < 1 << 63 for v in values)
        ):
            raise ValueError("bad SysTick state in snapshot")
        for name, value in zip(self.FIELDS, values, strict=True):
            setattr(self, name, bool(value) if name == "flag_set" else value)

    @property
    def enabled(self) -> bool:
        return bool(self.csr & CSR_ENABLE)

    def value(self, cycle: int) -> int:
        """CVR at `cycle`."""
        if not self.enabled:
            return self.stopped_value
        elapsed = cycle - self.start_cycle
        if elapsed <= self.start_value:
            return self.start_value - elapsed
        if self.rvr == 0:
            return 0
        return self.rvr - (elapsed - self.start_value - 1) % (self.rvr + 1)

    def wraps_between(self, after: int, upto: int) -> bool:
        """Whether the counter goes from 1 to 0 at some cycle in (after, upto]."""
        nxt = self.next_wrap(after)
        return nxt is not None and nxt <= upto

    def next_wrap(self, cycle: int) -> int | None:
        """The first cycle after `cycle` at which the counter goes from 1 to 0, or None."""
        if not self.enabled:
            return None
        v, period = self.start_value, self.rvr + 1
        first = self.start_cycle + (v if v > 0 else period)
        if self.rvr == 0 and v == 0:
            return None
        if first > cycle:
            return first
        if self.rvr == 0:
            return None
        k = (cycle - first) // period + 1
        return first + k * period

    # -- registers ------------------------------------------------------------------------

    def read_csr(self, cycle: int) -> int:
        flag = self.flag_set or self.wraps_between(self.flag_seen, cycle)
        self.flag_set = False
        self.flag_seen = cycle
        return (self.csr & 0x7) | (CSR_COUNTFLAG if flag else 0)

    def write_csr(self, cycle: int, value: int) -> None:
        if value & CSR_ENABLE and not value & CSR_CLKSOURCE:
            raise NotModelled("SysTick with the external reference clock (CSR.CLKSOURCE=0)")
        was = self.enabled
        current = self.value(cycle)
        if self.wraps_between(self.flag_seen, cycle):
            self.flag_set = True
        self.flag_seen = cycle
        self.csr = value & 0x7
        if self.enabled and not was:
            self.start_cycle, self.start_value = cycle, current
            self.fired_until = cycle
        elif was and not self.enabled:
            self.stopped_value = current

    def read_cvr(self, cycle: int) -> int:
        return self.value(cycle)

    def write_cvr(self, cycle: int) -> None:
        """Any write clears the counter and COUNTFLAG."""
        self.flag_set = False
        self.flag_seen = cycle
        self.stopped_value = 0
        if self.enabled:
            self.start_cycle, self.start_value = cycle, 0
            self.fired_until = cycle

    def write_rvr(self, cycle: int, value: int) -> None:
        """The new reload value applies from the next reload; counting so far is unchanged."""
        if self.enabled:
            self.start_cycle, self.start_value = cycle, self.value(cycle)
        self.rvr = value & MAX_24

    def due(self) -> int | None:
        """The cycle at which the next exception is due (TICKINT set), or None."""
        if not self.csr & CSR_TICKINT:
            return None
        return self.next_wrap(self.fired_until)

    def fire(self, cycle: int) -> bool:
        """Account for the wraps up to `cycle`; True when the exception should be pended."""
        due = self.due()
        self.fired_until = cycle
        return due is not None and due <= cycle
