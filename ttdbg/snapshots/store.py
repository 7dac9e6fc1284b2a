"""The snapshots of one recording: sorted by icount, nearest-at-or-before lookup, decoding."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass

from .codec import Baseline, decode
from .state import MachineState


@dataclass(frozen=True)
class SnapshotEntry:
    """Where one snapshot is and what it is; `data` is its encoded (compressed) form."""

    icount: int
    keyframe: bool
    state_hash: str
    data: bytes


class SnapshotStore:
    """Snapshot lookup by icount in O(log n), and decoding with a small cache of states."""

    def __init__(
        self, entries: list[SnapshotEntry], baseline: Baseline, cache_size: int = 4
    ) -> None:
        self._baseline = baseline
        self.entries = sorted(entries, key=lambda e: e.icount)
        self._icounts = [e.icount for e in self.entries]
        self._cache: OrderedDict[int, MachineState] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def icounts(self) -> list[int]:
        return list(self._icounts)

    def nearest(self, icount: int) -> int | None:
        """Index of the latest snapshot at or before `icount`, or None if there is none."""
        i = bisect.bisect_right(self._icounts, icount) - 1
        return i if i >= 0 else None

    def state(self, index: int) -> MachineState:
        """The full state of snapshot `index`, composing deltas back to their keyframe."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        start = index
        while start > 0 and not self.entries[start].keyframe and start - 1 not in self._cache:
            start -= 1
        base = (
            self._cache.get(start - 1) if start > 0 and not self.entries[start].keyframe else None
        )
        state: MachineState | None = base
        for i in range(start, index + 1):
            state, _meta = decode(self.entries[i].data, state, self._baseline)
        assert state is not None
        self._cache[index] = state
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return state
