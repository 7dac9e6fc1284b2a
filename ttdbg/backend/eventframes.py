"""A recording's event log kept as its encoded frames and decoded a frame at a time when read,
so memory follows the few frames in use, not the length of the log."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from ttdbg.errors import RecordingError

from .eventlog import MAX_BATCH_EVENTS, Event, EventKind, decode_events
from .filestore import FileStore
from .recfile import Frame, decode_events_frame, events_frame_head

CACHED_FRAMES = 4  # decoded batches kept: replay reads one, queries look a little around
CACHED_EVENTS = MAX_BATCH_EVENTS  # and no more events than one full batch besides the newest


@dataclass(frozen=True)
class EventFrame:
    """One EVENTS frame of the file: its fixed fields were checked when the recording was
    opened; its events are checked against them whenever it is decoded."""

    frame: Frame
    first: int  # index of its first event in the log
    count: int  # from the next frame's first index (the last frame is decoded at open)
    base: int  # the icount its deltas start from
    end: int | None  # the icount of its last event (the next frame's base); None: unknown


def frames_of_log(
    frames: list[Frame], path: str, last: list[Event] | None
) -> tuple[list[EventFrame], int]:
    """The non-empty EVENTS frames of a file as the log reads them, and the icount of the
    last event, from the frames' fixed fields alone: `last` is the decoded last frame's
    events (None when there is no frame). Indexes and icounts must run on from frame to
    frame; each frame's own events are checked against this when it is decoded."""
    heads = [events_frame_head(frame, path) for frame in frames]
    out: list[EventFrame] = []
    count = last_icount = 0
    for k, (frame, (first, base)) in enumerate(zip(frames, heads, strict=True)):
        if first != count:
            raise RecordingError(f"{path}: event frames out of order at offset {frame.offset}")
        if base != last_icount:
            raise RecordingError(f"{path}: event icounts go backwards at offset {frame.offset}")
        if k + 1 < len(frames):
            next_first, next_base = heads[k + 1]
            size, end = next_first - first, next_base
        else:
            assert last is not None
            size, end = len(last), (last[-1].icount if last else base)
        # (The recorder writes no empty frame: one here would hide the events it holds.)
        if (not 0 < size <= MAX_BATCH_EVENTS and (size or k + 1 < len(frames))) or end < base:
            raise RecordingError(f"{path}: event frames out of order at offset {frame.offset}")
        if size:
            out.append(EventFrame(frame, first, size, base, end))
        count, last_icount = first + size, end
    return out, last_icount


def decode_frame(
    frame: Frame, files: FileStore, path: str, limit: int, read_budget: int
) -> tuple[int, int, list[Event]]:
    """(first index, base icount, events) of an EVENTS frame, with each FILE_READ event's
    bytes taken from the stored file; RecordingError for anything malformed, or when the
    reads in the batch exceed `read_budget` bytes."""
    first, base, data = decode_events_frame(frame, path, limit)
    events: list[Event] = []
    read = 0
    try:
        for ev in decode_events(data, base):
            if ev.kind == EventKind.FILE_READ:
                # The bytes count against the budget before they are copied out of the file.
                read += ev.result
                if read > read_budget:
                    raise RecordingError("the reads in the event log exceed its memory")
                data_read = files.span(ev.payload, ev.result, "event log")
                ev = Event(EventKind.SYSCALL, ev.icount, ev.args, ev.result, data_read, ev.payload)
            events.append(ev)
    except RecordingError as err:
        raise RecordingError(f"{path}: {err}") from None
    return first, base, events


class EventLog(Sequence[Event]):
    """The events of a recording in order, indexable like a list; each frame is decoded
    again when it is read after leaving the small cache of decoded frames."""

    def __init__(
        self, frames: list[EventFrame], files: FileStore, path: str, limit: int, read_budget: int
    ) -> None:
        self._frames = frames
        self._firsts = [f.first for f in frames]
        self._files = files
        self._path = path
        self._limit = limit
        self._read_budget = read_budget
        self._length = frames[-1].first + frames[-1].count if frames else 0
        self._cache: OrderedDict[int, list[Event]] = OrderedDict()
        self._cached_events = 0
        # The frame the last read fell in: replay reads event after event from it.
        self._hot_first, self._hot_end, self._hot = 0, 0, list[Event]()

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if self._hot_first <= index < self._hot_end:
            return self._hot[index - self._hot_first]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("event index out of range")
        k = bisect.bisect_right(self._firsts, index) - 1
        events = self._decoded(k)
        self._hot_first = self._frames[k].first
        self._hot_end, self._hot = self._hot_first + len(events), events
        return events[index - self._hot_first]

    def __iter__(self) -> Iterator[Event]:
        for k in range(len(self._frames)):
            yield from self._decoded(k)

    def __reversed__(self) -> Iterator[Event]:
        for k in reversed(range(len(self._frames))):
            yield from reversed(self._decoded(k))

    def _decoded(self, k: int) -> list[Event]:
        events = self._cache.get(k)
        if events is not None:
            self._cache.move_to_end(k)
            return events
        frame = self._frames[k]
        _first, _base, events = decode_frame(
            frame.frame, self._files, self._path, self._limit, self._read_budget
        )
        if len(events) != frame.count or (events[-1].icount if events else None) != frame.end:
            # The frames around it say otherwise: a damaged or forged frame.
            raise RecordingError(
                f"{self._path}: event frame at offset {frame.frame.offset} does not match "
                "the frames around it (damaged or changed)"
            )
        self._cache[k] = events
        self._cached_events += len(events)
        while len(self._cache) > 1 and (
            len(self._cache) > CACHED_FRAMES or self._cached_events > CACHED_EVENTS + len(events)
        ):
            _k, dropped = self._cache.popitem(last=False)
            self._cached_events -= len(dropped)
        return events
