"""Checkpoints filled in while the engine is idle, so seeks replay little wherever they land.

A recording's snapshots are tens of millions of instructions apart; a seek between two of
them replays up to a whole interval. While no front-end wants the engine, the densifier
replays the stretches between known states (recording snapshots, cached states) and caches a
state every `spacing` instructions, the stretches nearest the position first; before that,
the states a step back from the position keeps, when a jump made without them (the TUI's)
left them to the first step back. It works in short slices, checks `should_stop` between
them, and always puts the machine back where the front-ends left it before the engine runs
anything else. Its states go to the timeline's state cache (pages shared with their
neighbours) and it stops once the cache holds `budget_share` of its budget, so memory stays
bounded and the user's own checkpoints are not evicted for it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

from ttdbg.errors import TtdbgError
from ttdbg.snapshots.state import MachineState

from .cancel import CancelToken
from .stops import Interrupted
from .timeline import Timeline

log = logging.getLogger(__name__)
DEFAULT_SPACING = 1 << 20  # instructions between filled-in states (about 10 ms of replay)
DEFAULT_BUDGET_SHARE = 0.5  # of the state cache's budget the densifier may fill


class _Asked(CancelToken):
    """Cancelled once the engine asks its idle work to stop."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self._should_stop = should_stop

    @property
    def cancelled(self) -> bool:
        return self._should_stop()


class Densifier:
    """Fills the gaps between known states of one timeline, on the engine thread."""

    def __init__(
        self,
        timeline: Timeline,
        spacing: int = DEFAULT_SPACING,
        budget_share: float = DEFAULT_BUDGET_SHARE,
    ) -> None:
        if spacing <= 0:
            raise ValueError("spacing must be positive")
        self.tl = timeline
        self.spacing = spacing
        self.budget = int(timeline.cache.budget * budget_share)
        self.added = 0  # states this densifier cached
        self._failed = False  # a replay error: stop trying (the front-end will show it)

    def known(self) -> list[int]:
        """The icounts a seek can start from without replaying: snapshots and cached states."""
        tl = self.tl
        return sorted(set(tl.recording.snapshots.icounts) | set(tl.cache.icounts))

    def next_gap(self, around: int) -> tuple[int, int] | None:
        """The stretch (from, to) between two known states farther apart than the spacing,
        nearest `around`; None once every stretch is dense (or the budget is full)."""
        if self._failed or self.tl.cache.bytes_used >= self.budget:
            return None
        known = self.known()
        end = self.tl.end
        if not known or known[-1] < end:
            known.append(end)
        best: tuple[int, int] | None = None
        best_distance = -1
        limit = self.spacing + self.spacing // 2  # a gap a bit over the spacing is fine
        for lo, hi in itertools.pairwise(known):
            if hi - lo <= limit:
                continue
            distance = 0 if lo <= around < hi else min(abs(around - lo), abs(around - hi))
            if best is None or distance < best_distance:
                best, best_distance = (lo, hi), distance
        return best

    @property
    def done(self) -> bool:
        """Nothing left to fill (or no room for it)."""
        return self.next_gap(self.tl.position) is None

    def work(self, should_stop: Callable[[], bool]) -> bool:
        """Fill gaps slice by slice until `should_stop()` or nothing is left; the machine is
        back at its position when this returns. True: more remains."""
        tl = self.tl
        home = tl.position
        saved: MachineState | None = None
        try:
            # First the states a step back from here keeps: the front-end jumped here
            # without them (a jump costs less so), and the user may step back next.
            start = None if should_stop() else tl.steps_back_start()
            if start is not None:
                saved = self._save_home()
                if isinstance(tl.keep_steps_back(start, _Asked(should_stop)), Interrupted):
                    return True
            while not should_stop():
                gap = self.next_gap(home)
                if gap is None:
                    return False
                if saved is None:
                    saved = self._save_home()
                if not self._fill(gap, should_stop):
                    return True
            return True
        except TtdbgError as err:
            log.warning("filling in checkpoints stopped: %s", err)
            self._failed = True
            return False
        finally:
            if saved is not None:
                self._go_home(saved)

    def _save_home(self) -> MachineState:
        """The state at the front-ends' position, kept to come back to (and cached: a move
        near it is cheaper for it)."""
        tl = self.tl
        state = tl.cache.nearest(tl.position)
        if state is None or state.icount != tl.position:
            state = tl._capture()
            tl.cache.add(state)
        return state

    def _go_home(self, state: MachineState) -> None:
        tl = self.tl
        if tl.position != state.icount or (tl.machine.halted is not None) != state.halted:
            tl._restore(state)

    def _fill(self, gap: tuple[int, int], should_stop: Callable[[], bool]) -> bool:
        """Replay from the state at the gap's start, caching one every `spacing`
        instructions; False: stopped before the gap was filled."""
        tl = self.tl
        lo, hi = gap
        mark = lo + self.spacing
        while mark < hi - self.spacing // 2:
            if should_stop() or tl.cache.bytes_used >= self.budget:
                return False
            # From the state at `lo` (or the last one cached) when not already on the way.
            tl._goto(mark, None, None, checkpoints=False)
            if tl.position != mark or tl.machine.halted is not None:
                return True  # the end of what can be replayed
            if mark not in tl.cache:
                tl.cache.add(tl._capture())
                self.added += 1
            mark += self.spacing
        return True


def spacing_for(end: int, most: int = 1024, least: int = DEFAULT_SPACING) -> int:
    """A spacing that fills a recording of `end` instructions with at most `most` states."""
    return max(least, -(-end // most))
