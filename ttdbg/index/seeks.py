"""Seek points from the index: the saved state nearest at or before an icount, decoded against
its interval's snapshot and checked like one."""

from __future__ import annotations

import bisect
import logging

import pyarrow as pa

from ttdbg.backend.icount import Block
from ttdbg.backend.recording import Recording
from ttdbg.errors import RecordingError
from ttdbg.snapshots.state import MachineState

from .store import IndexStore, IndexUnusable

log = logging.getLogger(__name__)


class SeekPoints:
    """Where the index holds states (from the interval summaries) and reading one back."""

    def __init__(self, store: IndexStore, summaries: pa.Table) -> None:
        self.store = store
        points: list[tuple[int, int, int]] = []  # (icount, interval, row in its file)
        for row in summaries.select(["interval", "seeks"]).to_pylist():
            for n, icount in enumerate(row["seeks"] or ()):
                points.append((icount, row["interval"], n))
        points.sort()
        self._points = points
        self._icounts = [p[0] for p in points]
        self.broken = False  # set when a stored state failed its checks: use none after that

    def __len__(self) -> int:
        return len(self._points)

    def blocks(self, interval: int) -> list[tuple[Block, int]]:
        """The blocks `interval` ran, with their code's crc32 (nothing if unreadable: the
        replay then learns them as it meets them)."""
        try:
            table = self.store.read_interval("blocks", interval)
        except IndexUnusable as err:
            log.warning("not using the index's blocks: %s", err)
            return []
        # Column by column: a row at a time costs a dict per block.
        insns = table.column("insns").combine_chunks()
        ends = insns.offsets.to_pylist()
        values = insns.values.to_pylist()
        columns = (table.column(name).to_pylist() for name in ("addr", "size", "crc32"))
        return [
            (Block(addr, size, tuple(values[ends[i] : ends[i + 1]])), crc)
            for i, (addr, size, crc) in enumerate(zip(*columns, strict=True))
            if addr is not None and size and crc is not None and ends[i + 1] > ends[i]
        ]

    def nearest(self, icount: int) -> int | None:
        """The icount of the latest seek point at or before `icount`, or None."""
        if self.broken:
            return None
        i = bisect.bisect_right(self._icounts, icount) - 1
        return self._icounts[i] if i >= 0 else None

    def state(self, rec: Recording, icount: int) -> MachineState | None:
        """The state at the seek point `icount`; None (and no seek point used again) when its
        file is unreadable or the state fails the checks a snapshot would."""
        i = bisect.bisect_left(self._icounts, icount)
        if i == len(self._icounts) or self._icounts[i] != icount:
            return None
        _icount, interval, row = self._points[i]
        path = self.store.file("seeks", interval)
        try:
            table = self.store.read_row_groups("seeks", interval, [row])
            if table.num_rows != 1 or table.column("icount")[0].as_py() != icount:
                raise RecordingError(f"{path}: row {row} is not the state at icount {icount}")
            stored = table.to_pylist()[0]
            return rec.snapshots.decode_against(
                stored["data"], interval, icount, stored["state_hash"], path
            )
        except (IndexUnusable, RecordingError) as err:
            log.warning("not using the index's seek points: %s", err)
            self.broken = True
            return None
