"""Checkpoints filled in while the engine is idle: seeks land on exact states, the position
never moves for the front-ends, and the work stops when asked and when the budget is full."""

from __future__ import annotations

import itertools
import random
import threading

from tests.conftest import SAMPLES, poll
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.densify import Densifier, spacing_for
from ttdbg.backend.engine import Engine
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import Interrupted, Stop
from ttdbg.backend.timeline import Timeline
from ttdbg.snapshots.state import MachineState, PageDigests

REC = open_recording(str(SAMPLES / "walk.ttrec"))  # 14,621 instructions, snapshots every 2,000
SPACING = 256


def _digest(tl: Timeline) -> str:
    return PageDigests().state_hash(tl._capture())


def test_filled_in_states_are_the_states_a_plain_replay_reaches() -> None:
    tl = Timeline(REC)
    tl.seek(5_000)
    here = _digest(tl)
    densifier = Densifier(tl, SPACING)
    assert densifier.work(lambda: False) is False  # nothing left
    assert densifier.added > 30
    assert tl.position == 5_000  # the front-ends' position stays
    assert _digest(tl) == here
    known = densifier.known()
    assert max(b - a for a, b in itertools.pairwise(known)) <= SPACING * 3 // 2
    oracle = Timeline(REC)  # only the recording's snapshots
    for target in random.Random(7).sample(range(tl.end + 1), 25):
        start = tl.cache.nearest(target)
        assert start is not None
        assert target - start.icount <= SPACING * 3 // 2
        tl.seek(target)
        oracle.seek(target)
        assert _digest(tl) == _digest(oracle), target


def test_the_stretch_nearest_the_position_is_filled_first() -> None:
    tl = Timeline(REC)
    tl.seek(11_000)
    densifier = Densifier(tl, SPACING)
    lo, hi = densifier.next_gap(tl.position) or (0, 0)
    assert 10_000 <= lo <= 11_000 < hi == 12_000  # (the seek itself cached a few states)
    calls = iter(range(3))
    densifier.work(lambda: next(calls, None) is None)  # stops after a slice or two
    assert tl.position == 11_000
    filled = [i for i in tl.cache.icounts if i % 2_000 and i != 11_000]
    assert filled
    assert all(10_000 < i < 12_000 for i in filled)


def test_work_stops_when_asked_and_when_the_budget_is_full() -> None:
    tl = Timeline(REC)
    densifier = Densifier(tl, SPACING)
    assert densifier.work(lambda: True) is True  # asked to stop at once: nothing done
    assert densifier.added == 0
    assert tl.position == 0
    full = Densifier(tl, SPACING, budget_share=0.0)  # no room at all
    assert full.next_gap(0) is None
    assert full.work(lambda: False) is False
    assert full.added == 0


def test_spacing_grows_with_the_recording() -> None:
    assert spacing_for(10_000) == 1 << 20
    assert spacing_for(4_000_000_000, most=1000) == 4_000_000


def test_the_engine_fills_in_while_idle_and_operations_see_their_position() -> None:
    tl = Timeline(REC)
    engine = Engine(tl)
    try:
        engine.call(lambda _c: tl.seek(7_777))
        expected = engine.call(lambda _c: _digest(tl))
        densifier = Densifier(tl, 64)
        engine.set_idle(densifier, after=0.0)
        seen: list[tuple[int, str]] = []
        # Operations submitted while the idle work runs see the position they left.
        for _ in range(20):
            seen.append(engine.call(lambda _c: (tl.position, _digest(tl))))
        poll(lambda: engine.idle_done, 60, "the idle work to finish")
        assert densifier.added > 100
        assert set(seen) == {(7_777, expected)}
        assert engine.call(lambda _c: (tl.position, _digest(tl))) == (7_777, expected)
        engine.set_idle(None)
        # (The operation above may have started one more idle slice: it ends, none follows.)
        poll(lambda: engine.idle_done, 60, "the last idle slice to end")
    finally:
        engine.stop()


def test_a_short_operation_waits_for_the_idle_slice_instead_of_running_beside_it() -> None:
    tl = Timeline(REC)
    engine = Engine(tl)
    inside = threading.Event()
    release = threading.Event()

    class Slow:
        def work(self, should_stop: object) -> bool:
            inside.set()
            release.wait(10)
            return False

    try:
        engine.set_idle(Slow(), after=0.0)
        assert inside.wait(10)
        assert engine.run_here(lambda _c: 1) is None  # busy: it must be submitted instead
        future = engine.submit(lambda _c: tl.position)
        release.set()
        assert future.result(10) == 0
    finally:
        release.set()
        engine.stop()


def test_idle_work_keeps_the_states_a_step_back_from_a_jump_keeps() -> None:
    """A jump without checkpoints (the TUI's) leaves them to the first step back; the idle
    work keeps them first, so that step replays a few instructions, and lands on the state
    a plain replay reaches."""
    tl = Timeline(REC)
    tl.seek(9_500, checkpoints=False)
    assert [i for i in tl.cache.icounts if 8_000 < i <= 9_500] == []
    here = _digest(tl)
    densifier = Densifier(tl, 1 << 20)  # no gaps to fill: only the steps back
    assert densifier.next_gap(tl.position) is None
    assert densifier.work(lambda: False) is False
    assert (tl.position, _digest(tl)) == (9_500, here)
    kept = tl.cache.nearest(9_499)
    assert kept is not None
    assert 9_500 - 16 <= kept.icount < 9_500
    assert tl.steps_back_start() is None  # nothing left to keep
    oracle = Timeline(REC)
    for _ in range(3):
        tl.reverse_step()
        oracle.seek(tl.position)
        assert _digest(tl) == _digest(oracle), tl.position


def test_steps_back_stopped_halfway_leave_the_position_where_it_was() -> None:
    tl = Timeline(REC)
    tl.seek(9_500, checkpoints=False)
    here = _digest(tl)
    tl._slice = 1 << 6  # several slices, so the stop comes between two
    ended: list[Stop] = []
    keep = tl.keep_steps_back

    def kept(start: MachineState, cancel: CancelToken | None = None) -> Stop:
        ended.append(keep(start, cancel))
        return ended[-1]

    tl.keep_steps_back = kept  # type: ignore[method-assign]
    calls = iter(range(2))  # before the work, before its first slice; then stop
    assert Densifier(tl, 1 << 20).work(lambda: next(calls, None) is None) is True
    assert [type(stop) for stop in ended] == [Interrupted]
    assert 8_000 < ended[0].icount < 9_500
    assert (tl.position, _digest(tl)) == (9_500, here)
