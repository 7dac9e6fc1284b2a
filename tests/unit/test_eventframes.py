"""The event log is decoded a batch at a time when read: it reads like the list of every
event (the oracle decodes every EVENTS frame of the file), keeps at most a few decoded
batches, and a frame that does not match what was checked at open is refused."""

from __future__ import annotations

import dataclasses
import random

import pytest

from tests.conftest import SAMPLES
from ttdbg.backend.eventframes import CACHED_FRAMES, EventLog
from ttdbg.backend.eventlog import Event, EventKind, decode_events
from ttdbg.backend.recfile import FrameType, decode_events_frame, read_frames
from ttdbg.backend.recording import open_recording
from ttdbg.errors import RecordingError


def every_event(path: str) -> list[Event]:
    """All events of the file, decoded frame by frame in one go (reads resolved by kind)."""
    rec = open_recording(path)
    frames, _ = read_frames(path, lazy=frozenset({FrameType.SNAPSHOT}))
    out: list[Event] = []
    for frame in frames:
        if frame.type == FrameType.EVENTS:
            _first, base, data = decode_events_frame(frame, path, 1 << 30)
            for ev in decode_events(data, base):
                if ev.kind == EventKind.FILE_READ:
                    data_read = rec.files.span(ev.payload, ev.result, "test")
                    ev = Event(
                        EventKind.SYSCALL, ev.icount, ev.args, ev.result, data_read, ev.payload
                    )
                out.append(ev)
    return out


@pytest.mark.parametrize("name", ["walk", "inputs"])
def test_the_log_reads_like_the_list_of_every_event(name: str) -> None:
    path = str(SAMPLES / f"{name}.ttrec")
    expected = every_event(path)
    log = open_recording(path).events
    assert isinstance(log, EventLog)
    assert len(log._frames) > 1  # several batches, so reads cross frames
    assert len(log) == len(expected)
    assert list(log) == expected
    assert list(reversed(log)) == expected[::-1]
    assert log[-1] == expected[-1]
    assert log[1:-1] == expected[1:-1]
    order = list(range(len(expected)))
    random.Random(7).shuffle(order)
    assert [log[i] for i in order] == [expected[i] for i in order]
    with pytest.raises(IndexError):
        log[len(expected)]


def test_only_a_few_decoded_batches_are_kept() -> None:
    log = open_recording(str(SAMPLES / "walk.ttrec")).events
    assert isinstance(log, EventLog)
    assert not log._cache  # opening checked every batch and kept none
    log[0]
    assert len(log._cache) == 1
    list(log)
    assert len(log._cache) <= min(CACHED_FRAMES, len(log._frames))


def test_a_frame_that_changed_since_open_is_refused() -> None:
    log = open_recording(str(SAMPLES / "walk.ttrec")).events
    assert isinstance(log, EventLog)
    log._frames[1] = dataclasses.replace(log._frames[1], count=log._frames[1].count + 1)
    with pytest.raises(RecordingError, match="changed"):
        log[log._frames[1].first]
