"""The event log is decoded a batch at a time when read: it reads like the list of the events
the recorder logged (the oracle is the recorder's own events, caught as it appended them, not
this decoder), opening decodes only the last batch, keeps at most a few decoded batches, and a
frame that does not match the frames around it is refused when it is read."""

from __future__ import annotations

import dataclasses
import pickle
import random
import subprocess
import sys
from pathlib import Path

import lz4.frame
import pytest

from tests.conftest import BIN, SAMPLES, run_ttdbg
from tests.integration.test_bad_input import assert_one_line_error
from tests.recedit import rewrite
from ttdbg.backend import eventframes, recording
from ttdbg.backend.eventframes import CACHED_FRAMES, EventLog
from ttdbg.backend.eventlog import Event, decode_events, encode_events
from ttdbg.backend.recfile import EVENTS_HEAD, Frame, FrameType, encode_events_frame
from ttdbg.backend.recording import open_recording
from ttdbg.errors import RecordingError

# Records `inputs` (stdin, clocks, random, a file read) with every event the recorder logs
# kept as it was appended, and pickles them: the events as produced, before any encoding.
RECORD_AND_KEEP = """
import pickle, sys
from ttdbg.backend.eventlog import EventLogWriter
from ttdbg.backend.recorder import Recorder
produced = []
append = EventLogWriter.append
def keep(self, event):
    produced.append(event)
    append(self, event)
EventLogWriter.append = keep
program, greeting, out, kept = sys.argv[1:]
Recorder(program, [program.encode(), greeting.encode()], [], out, 2000).run()
with open(kept, "wb") as f:
    pickle.dump(produced, f)
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Event]]:
    """(path of a recording of `inputs`, the events its recorder logged, in order)."""
    where = tmp_path_factory.mktemp("events")
    out, kept = where / "inputs.ttrec", where / "events.pickle"
    subprocess.run(
        [sys.executable, "-c", RECORD_AND_KEEP, str(BIN / "inputs"),
         str(SAMPLES / "greeting.txt"), str(out), str(kept)],
        input=b"a line from stdin\n", capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    produced: list[Event] = pickle.loads(kept.read_bytes())
    # The file stores arguments as u64; a file read's bytes come back as the syscall's payload.
    mask = (1 << 64) - 1
    expected = [dataclasses.replace(e, args=tuple(a & mask for a in e.args)) for e in produced]
    return str(out), expected


def test_the_log_reads_like_the_events_the_recorder_logged(
    recorded: tuple[str, list[Event]],
) -> None:
    path, expected = recorded
    log = open_recording(path).events
    assert isinstance(log, EventLog)
    assert len(log._frames) > 1  # several batches, so reads cross frames
    assert any(e.span for e in expected)  # a file read, stored as a reference to the file
    assert len(log) == len(expected)
    assert list(log) == expected
    assert [e.payload for e in log] == [e.payload for e in expected]
    assert list(reversed(log)) == expected[::-1]
    assert log[-1] == expected[-1]
    assert log[1:-1] == expected[1:-1]
    order = list(range(len(expected)))
    random.Random(7).shuffle(order)
    assert [log[i] for i in order] == [expected[i] for i in order]
    with pytest.raises(IndexError):
        log[len(expected)]


def test_opening_decodes_only_the_last_batch(
    recorded: tuple[str, list[Event]], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    decode_frame = eventframes.decode_frame

    def counting(frame: Frame, *args: object) -> object:
        decoded.append(frame.offset)
        return decode_frame(frame, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(eventframes, "decode_frame", counting)
    monkeypatch.setattr(recording, "decode_frame", counting)
    rec = open_recording(recorded[0])
    log = rec.events
    assert isinstance(log, EventLog)
    assert decoded == [log._frames[-1].frame.offset]
    assert not log._cache
    assert rec.last_known_icount == recorded[1][-1].icount
    log[0]
    assert decoded[1:] == [log._frames[0].frame.offset]


def test_only_a_few_decoded_batches_are_kept() -> None:
    log = open_recording(str(SAMPLES / "walk.ttrec")).events
    assert isinstance(log, EventLog)
    assert not log._cache
    log[0]
    assert len(log._cache) == 1
    list(log)
    assert len(log._cache) <= min(CACHED_FRAMES, len(log._frames))


def test_a_frame_that_changed_since_open_is_refused() -> None:
    log = open_recording(str(SAMPLES / "walk.ttrec")).events
    assert isinstance(log, EventLog)
    log._frames[1] = dataclasses.replace(log._frames[1], count=log._frames[1].count + 1)
    with pytest.raises(RecordingError, match="does not match"):
        log[log._frames[1].first]


def _move_the_last_event_of_the_first_frame(src: Path, dest: Path) -> Path:
    """A copy of `src` whose first EVENTS frame has its last event one instruction later (CRCs
    valid): the next frame's base icount still says where it was."""
    done = False

    def change(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        nonlocal done
        if frame.type != FrameType.EVENTS or done:
            return None
        done = True
        first, base = EVENTS_HEAD.unpack_from(frame.payload)
        events = list(decode_events(lz4.frame.decompress(frame.payload[EVENTS_HEAD.size :]), base))
        events[-1] = dataclasses.replace(events[-1], icount=events[-1].icount + 1)
        payload = encode_events_frame(first, base, encode_events(events, base))
        return [(FrameType.EVENTS, payload)]

    return rewrite(src, dest, change)


def test_a_damaged_frame_is_reported_when_read_and_by_verify(tmp_path: Path) -> None:
    bad = _move_the_last_event_of_the_first_frame(SAMPLES / "walk.ttrec", tmp_path / "bad.ttrec")
    rec = open_recording(str(bad))  # opening no longer decodes the first frame
    with pytest.raises(RecordingError, match="does not match the frames around it"):
        list(rec.events)
    proc = run_ttdbg(["replay", "--verify", str(bad)])
    assert_one_line_error(proc, str(bad), "does not match the frames around it")
