"""A firmware recording's whole run at a glance: every interrupt entry and every serial byte,
by icount (read in one forward replay; front-ends show them at any position by bisection)."""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

from .platform import EnteredInterrupt


class HistoryLog:
    """Collects what one forward replay from icount 0 shows (the platform's `entered` and
    `written` listeners), then freezes it into a FirmwareHistory."""

    def __init__(self) -> None:
        self.entries: list[EnteredInterrupt] = []
        self._icounts = array("q")
        self._data = bytearray()

    def entered(self, entry: EnteredInterrupt) -> None:
        self.entries.append(entry)

    def written(self, icount: int, _port: int, data: bytes) -> None:
        """`data` stored to a UART's transmit register by instruction `icount`."""
        self._icounts.extend([icount] * len(data))
        self._data += data

    def history(self, complete: bool) -> FirmwareHistory:
        return FirmwareHistory(tuple(self.entries), self._icounts, bytes(self._data), complete)


class FirmwareHistory:
    """Interrupt entries and serial output of a firmware recording, in icount order.

    Position `p` is the state before instruction `p`: the serial text there is what the
    instructions before it stored, and an entry at `p` is where the handler begins."""

    def __init__(
        self,
        entries: tuple[EnteredInterrupt, ...],
        serial_icounts: Sequence[int],
        serial: bytes,
        complete: bool,
    ) -> None:
        if len(serial_icounts) != len(serial):
            raise ValueError("one icount per serial byte")
        self.entries = entries
        self.complete = complete  # False: the replay was cancelled part of the way
        self._entry_icounts = [e.icount for e in entries]
        self._serial_icounts = serial_icounts
        self._serial = serial

    def serial_before(self, icount: int, tail: int | None = None) -> bytes:
        """The bytes written before `icount` (only the last `tail` of them, if given)."""
        end = bisect.bisect_left(self._serial_icounts, icount)
        start = 0 if tail is None else max(0, end - tail)
        return self._serial[start:end]

    def entry_after(self, icount: int) -> EnteredInterrupt | None:
        """The first entry after `icount`."""
        i = bisect.bisect_right(self._entry_icounts, icount)
        return self.entries[i] if i < len(self.entries) else None

    def entry_before(self, icount: int) -> EnteredInterrupt | None:
        """The last entry before `icount`."""
        i = bisect.bisect_left(self._entry_icounts, icount)
        return self.entries[i - 1] if i > 0 else None

    def lanes(self) -> dict[int, list[int]]:
        """Each interrupt number entered, in number order, with the icounts it was entered at."""
        lanes: dict[int, list[int]] = {}
        for entry in self.entries:
            lanes.setdefault(entry.number, []).append(entry.icount)
        return dict(sorted(lanes.items()))
