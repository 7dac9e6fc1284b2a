"""Which thread ran where: the recorded schedule as runs of instructions, answered by bisection."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from .eventlog import Event, EventKind


@dataclass(frozen=True)
class Run:
    """Thread `tid` executes the instructions [start, end)."""

    tid: int
    start: int
    end: int


class Schedule:
    """The runs of a recording, from its SWITCH events (one run for a single thread)."""

    def __init__(self, events: Iterable[Event], main_tid: int, end: int) -> None:
        starts: list[int] = [0]
        tids: list[int] = [main_tid]
        for ev in events:
            if ev.kind != EventKind.SWITCH or len(ev.args) != 3:
                continue
            if ev.icount == starts[-1]:  # several switches at one icount: the last one runs
                tids[-1] = ev.args[1]
            else:
                starts.append(ev.icount)
                tids.append(ev.args[1])
        self.starts = starts
        self.tids = tids
        self.end = max(end, starts[-1])

    def thread_at(self, icount: int) -> int:
        """The thread that executes instruction `icount`."""
        return self.tids[bisect.bisect_right(self.starts, icount) - 1]

    def runs(self, lo: int = 0, hi: int | None = None) -> list[Run]:
        """The runs that overlap [lo, hi)."""
        hi = self.end if hi is None else hi
        first = max(0, bisect.bisect_right(self.starts, lo) - 1)
        out = []
        for i in range(first, len(self.starts)):
            start = self.starts[i]
            if start >= hi:
                break
            end = self.starts[i + 1] if i + 1 < len(self.starts) else self.end
            if end > lo:
                out.append(Run(self.tids[i], max(start, lo), min(end, hi)))
        return out

    def all_tids(self) -> list[int]:
        """Every thread that runs at some point of the recording, by tid."""
        return sorted(set(self.tids))

    def lane(self, lo: int, hi: int, cells: int) -> list[int | None]:
        """A lane of `cells` cells over [lo, hi): each cell's thread is the one that runs
        the most of its instructions (None for cells past the end or of no instruction)."""
        if cells <= 0 or hi <= lo:
            return []
        width = (hi - lo) / cells
        bounds = [lo + int(cell * width) for cell in range(cells)] + [hi]
        share: list[dict[int, int]] = [{} for _ in range(cells)]
        for run in self.runs(lo, hi):
            first = bisect.bisect_right(bounds, run.start) - 1
            last = min(cells - 1, bisect.bisect_left(bounds, run.end) - 1)
            for cell in range(max(0, first), last + 1):
                overlap = min(run.end, bounds[cell + 1]) - max(run.start, bounds[cell])
                if overlap > 0:
                    share[cell][run.tid] = share[cell].get(run.tid, 0) + overlap
        return [max(s, key=lambda t: (s[t], -t)) if s else None for s in share]

    def next_of(self, tid: int, icount: int) -> int | None:
        """The first instruction at or after `icount` that thread `tid` executes."""
        i = bisect.bisect_right(self.starts, icount) - 1
        if self.tids[i] == tid:
            return icount
        for j in range(i + 1, len(self.starts)):
            if self.tids[j] == tid:
                return self.starts[j]
        return None

    def previous_of(self, tid: int, icount: int) -> int | None:
        """The last instruction before `icount` that thread `tid` executed."""
        if icount <= 0:
            return None
        i = bisect.bisect_right(self.starts, icount - 1) - 1
        if self.tids[i] == tid:
            return icount - 1
        for j in range(i - 1, -1, -1):
            if self.tids[j] == tid:
                return self.starts[j + 1] - 1
        return None
