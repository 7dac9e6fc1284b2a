"""The recorded schedule as runs and as a lane of cells, against a brute-force walk over
every instruction."""

from __future__ import annotations

import random

from ttdbg.backend.eventlog import Event, EventKind
from ttdbg.backend.schedule import Schedule


def _schedule(rng: random.Random, end: int) -> Schedule:
    icounts = [*rng.sample(range(1, end), 12), 40, 40]  # two switches at one icount
    events, tid = [], 100
    for icount in sorted(icounts):
        to = rng.choice([100, 101, 102, 103])
        events.append(Event(EventKind.SWITCH, icount, (tid, to, 4)))
        tid = to
    return Schedule(events, 100, end)


def test_lane_cells_hold_the_thread_running_most_of_them() -> None:
    rng = random.Random(5)
    for _ in range(30):
        end = rng.randint(60, 400)
        sched = _schedule(rng, end)
        lo, hi = rng.randint(0, end // 2), rng.randint(end // 2 + 1, end + 50)
        cells = rng.randint(1, 40)
        lane = sched.lane(lo, hi, cells)
        assert len(lane) == cells
        width = (hi - lo) / cells
        for cell, got in enumerate(lane):
            c_lo = lo + int(cell * width)
            c_hi = lo + int((cell + 1) * width) if cell < cells - 1 else hi
            counts: dict[int, int] = {}
            for icount in range(c_lo, min(c_hi, end)):
                tid = sched.thread_at(icount)
                counts[tid] = counts.get(tid, 0) + 1
            want = max(counts, key=lambda t: (counts[t], -t)) if counts else None
            assert got == want, (cell, counts)


def test_all_tids_are_every_thread_that_ran() -> None:
    sched = _schedule(random.Random(2), 300)
    assert sched.all_tids() == sorted({sched.thread_at(i) for i in range(300)})
    assert sched.lane(10, 10, 5) == []
    assert sched.lane(0, 10, 0) == []
