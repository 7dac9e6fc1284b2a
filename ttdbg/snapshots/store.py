"""The snapshots of one recording: sorted by icount, nearest-at-or-before lookup, decoding."""

from __future__ import annotations

import bisect
import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ttdbg.errors import RecordingError

from .codec import DEFAULT_MEMORY_LIMIT, Baseline, EncodedSnapshot, decode, decode_summary, encode
from .state import HASH_VERSION, MachineState, PageDigests, PageSummary, summary_hash


@dataclass(frozen=True)
class SnapshotEntry:
    """Where one snapshot is and what it is; `load` reads its encoded (compressed) form of
    `size` bytes from the recording when it is decoded, so the snapshots of an open
    recording do not sit in memory."""

    icount: int
    keyframe: bool
    state_hash: str
    size: int
    load: Callable[[], bytes] = field(repr=False, compare=False)

    @property
    def data(self) -> bytes:
        return self.load()


class SnapshotStore:
    """Snapshot lookup by icount in O(log n), and decoding with a small cache of states."""

    def __init__(
        self,
        entries: list[SnapshotEntry],
        baseline: Baseline,
        cache_size: int = 4,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        hash_version: int = HASH_VERSION,
        source: str = "recording",
        normalize_platform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._normalize_platform = normalize_platform
        self._source = source  # the file the snapshots come from, for error messages
        self.baseline = baseline
        self._memory_limit = memory_limit
        self._digests = PageDigests(hash_version)
        self._saved_digests = PageDigests(hash_version)  # for states decoded by decode_against
        self.entries = sorted(entries, key=lambda e: e.icount)
        self._icounts = [e.icount for e in self.entries]
        self._cache: OrderedDict[int, MachineState] = OrderedDict()
        self._cache_size = cache_size
        self._last_summary: tuple[int, PageSummary] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def icounts(self) -> list[int]:
        return list(self._icounts)

    @property
    def hash_version(self) -> int:
        return self._digests.version

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
            state = self._decode(i, state)
            # The states on the way are kept too (the asked one last, the most recent): a
            # reverse scan asks for the snapshots before this one next, which then cost
            # nothing or one delta instead of the chain from the keyframe again.
            self._cache[i] = state
            self._cache.move_to_end(i)
        assert state is not None
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return state

    def _decode(self, index: int, base: MachineState | None) -> MachineState:
        """Decode snapshot `index` and check it against its stored hash: a snapshot edited
        after recording is refused wherever it would be restored."""
        entry = self.entries[index]
        where = f"{self._source}: snapshot at icount {entry.icount}"
        return self._decode_checked(
            entry.data, base, entry.icount, entry.state_hash, where, self._digests
        )

    def _decode_checked(
        self,
        data: bytes,
        base: MachineState | None,
        icount: int,
        state_hash: str,
        where: str,
        digests: PageDigests,
    ) -> MachineState:
        try:
            state, _meta = decode(data, base, self.baseline, self._memory_limit)
        except RecordingError as err:
            raise RecordingError(f"{where}: {err}") from None
        actual = digests.state_hash(state)
        platform = self._checked(where, icount, state_hash, state.icount, actual, state.platform)
        return dataclasses.replace(state, platform=platform)

    def _checked(
        self,
        where: str,
        icount: int,
        state_hash: str,
        decoded_icount: int,
        decoded_hash: str,
        platform: dict[str, Any],
    ) -> dict[str, Any]:
        """The platform state of a decoded snapshot as restoring it yields it, once its
        icount and hash are the ones the recording lists for it."""
        if decoded_icount != icount:
            raise RecordingError(f"{where}: it holds the state of icount {decoded_icount}")
        if decoded_hash != state_hash:
            raise RecordingError(f"{where}: its contents do not match its hash (damaged or edited)")
        if self._normalize_platform is None:
            return platform
        try:
            return self._normalize_platform(platform)
        except RecordingError as err:
            raise RecordingError(f"{where}: {err}") from None

    def summary(self, index: int) -> PageSummary:
        """Snapshot `index` as page digests, checked against its hash as `state` is, without
        holding its pages; from the last summary asked for when that is the snapshot before
        (verifying walks them in order)."""
        last = self._last_summary
        if last is not None and last[0] == index:
            return last[1]
        entry = self.entries[index]
        base = None
        if not entry.keyframe:
            base = last[1] if last is not None and last[0] == index - 1 else self.summary(index - 1)
        where = f"{self._source}: snapshot at icount {entry.icount}"
        try:
            summary = decode_summary(entry.data, base, self.baseline, self._memory_limit)
        except RecordingError as err:
            raise RecordingError(f"{where}: {err}") from None
        actual = summary_hash(summary, self.hash_version)
        platform = self._checked(where, entry.icount, entry.state_hash, summary.icount, actual,
                                 summary.platform)  # fmt: skip
        summary = dataclasses.replace(summary, platform=platform)
        self._last_summary = (index, summary)
        return summary

    # -- states kept outside the recording (an index's seek points) ---------------------------

    def encode_against(
        self, state: MachineState, index: int, digests: PageDigests | None = None
    ) -> EncodedSnapshot:
        """`state` encoded as a delta against snapshot `index`, hashed as the recording's own
        snapshots are (`digests` carries page hashes from one call to the next)."""
        digests = digests or PageDigests(self._digests.version)
        return encode(state, self.state(index), digests.state_hash(state), self.baseline)

    def decode_against(
        self, data: bytes, index: int, icount: int, state_hash: str, source: str
    ) -> MachineState:
        """A state stored by `encode_against`, checked like a snapshot of the recording:
        every page and region validated, the icount and the hash compared."""
        where = f"{source}: saved state at icount {icount}"
        base = self.state(index)
        return self._decode_checked(data, base, icount, state_hash, where, self._saved_digests)

    def check_all(self) -> None:
        """Decode and hash-check every snapshot, in order, holding two states at a time."""
        state: MachineState | None = None
        for i, entry in enumerate(self.entries):
            state = self._decode(i, None if entry.keyframe else state)
