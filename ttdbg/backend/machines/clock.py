"""Virtual time from the instruction count: 2^shift ns per instruction, as QEMU's -icount."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ICOUNT_SHIFT = 3  # 8 ns per instruction: 125 M instructions per virtual second
MAX_ICOUNT_SHIFT = 10  # QEMU accepts 0..10


@dataclass
class VirtualClock:
    """Nanoseconds since reset: `icount << shift` plus the time `wfi` skipped (`idle_ns`).

    `idle_ns` is machine state (snapshots keep it): a wait that skips to the next timer
    deadline adds to it, so time stays a function of the icount and the state alone.
    """

    shift: int
    idle_ns: int = 0

    def ns(self, icount: int) -> int:
        """Virtual nanoseconds before instruction `icount`."""
        return (icount << self.shift) + self.idle_ns

    def icount_for(self, ns: int) -> int:
        """The first icount whose time is at or past `ns` (deadlines land there)."""
        left = ns - self.idle_ns
        if left <= 0:
            return 0
        return -(-left >> self.shift)  # ceiling division by 2^shift

    def ticks(self, icount: int, hz: int) -> int:
        """A counter of `hz` ticks per second at `icount` (mtime, CNTVCT)."""
        return self.ns(icount) * hz // 1_000_000_000

    def ns_for_ticks(self, ticks: int, hz: int) -> int:
        """The first nanosecond at which a `hz` counter reads `ticks`."""
        return -(-ticks * 1_000_000_000 // hz)


class ClockReadings:
    """A bus's time readings (the `Bus` protocol's ns, ticks, icount_for_ticks): its
    `clock` read at its `icount()`, the one rule for the recorder and any bare baseline."""

    clock: VirtualClock

    def icount(self) -> int:
        raise NotImplementedError

    def ns(self) -> int:
        return self.clock.ns(self.icount())

    def ticks(self, hz: int) -> int:
        return self.clock.ticks(self.icount(), hz)

    def icount_for_ticks(self, ticks: int, hz: int) -> int:
        return self.clock.icount_for(self.clock.ns_for_ticks(ticks, hz))
