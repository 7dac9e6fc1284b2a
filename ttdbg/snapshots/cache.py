"""In-memory checkpoints of replayed states under a memory budget, for cheap moves back."""

from __future__ import annotations

import bisect
from collections import OrderedDict

from ttdbg.pages import PAGE

from .state import MachineState

DEFAULT_BUDGET = 512 << 20


class StateCache:
    """States by icount, least recently used dropped first once their pages pass the budget.

    States captured next to each other share the bytes of identical pages, so the budget
    counts each distinct page once.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget = budget_bytes
        self._states: OrderedDict[int, MachineState] = OrderedDict()
        self._icounts: list[int] = []
        self._page_refs: dict[int, int] = {}
        self._pinned: dict[int, int] = {}  # icount -> how many holders keep it (named states)
        self.bytes_used = 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, icount: int) -> bool:
        return icount in self._states

    @property
    def icounts(self) -> list[int]:
        return list(self._icounts)

    def add(self, state: MachineState, pin: bool = False) -> None:
        if state.icount in self._states:
            self._states.move_to_end(state.icount)
        else:
            self._states[state.icount] = state
            bisect.insort(self._icounts, state.icount)
            for page in state.pages.values():
                key = id(page)
                count = self._page_refs.get(key, 0)
                if count == 0:
                    self.bytes_used += PAGE
                self._page_refs[key] = count + 1
        if pin:
            self._pinned[state.icount] = self._pinned.get(state.icount, 0) + 1
        self._evict()

    def unpin(self, icount: int) -> None:
        """One holder lets go of the state at `icount`; with none left it may be evicted."""
        count = self._pinned.get(icount, 0) - 1
        if count > 0:
            self._pinned[icount] = count
        else:
            self._pinned.pop(icount, None)
            self._evict()

    @property
    def pinned(self) -> dict[int, int]:
        """Pinned icounts and how many holders each has."""
        return dict(self._pinned)

    def nearest(self, icount: int) -> MachineState | None:
        """The cached state with the largest icount at or before `icount`."""
        i = bisect.bisect_right(self._icounts, icount) - 1
        if i < 0:
            return None
        state = self._states[self._icounts[i]]
        self._states.move_to_end(state.icount)
        return state

    def _evict(self) -> None:
        while self.bytes_used > self.budget and len(self._states) > len(self._pinned):
            victim = next(k for k in self._states if k not in self._pinned)
            self._drop(victim)

    def _drop(self, icount: int) -> None:
        state = self._states.pop(icount)
        self._icounts.remove(icount)
        for page in state.pages.values():
            key = id(page)
            count = self._page_refs[key] - 1
            if count == 0:
                del self._page_refs[key]
                self.bytes_used -= PAGE
            else:
                self._page_refs[key] = count

    def clear(self) -> None:
        for icount in list(self._states):
            self._drop(icount)
        self._pinned.clear()
