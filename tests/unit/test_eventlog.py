"""The event log encoding round-trips every event and rejects malformed bytes cleanly."""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttdbg.backend.arch.counters import Counter
from ttdbg.backend.eventlog import (
    ARG_COUNTS,
    MAX_SWITCH_REASON,
    SWITCH_WAKE_SIZE,
    Event,
    EventKind,
    EventLogWriter,
    decode_events,
    encode_events,
)
from ttdbg.backend.filestore import FileStore
from ttdbg.errors import RecordingError

ANY_KIND = st.sampled_from(list(EventKind))


@st.composite
def valid_event(draw: st.DrawFn, kinds: st.SearchStrategy[EventKind] = ANY_KIND) -> Event:
    """An event as the recorder writes it: the kind's argument count, signals in range."""
    kind = draw(kinds)
    args = tuple(draw(st.lists(st.integers(0, (1 << 64) - 1), min_size=7, max_size=7)))
    args = args[: ARG_COUNTS[kind]]
    result = draw(st.integers(-(1 << 63), (1 << 63) - 1))
    if kind == EventKind.EXIT:
        args = (draw(st.integers(0, 255)), draw(st.integers(0, 64)))
    if kind == EventKind.SIGNAL:
        result = draw(st.integers(1, 64))
    if kind == EventKind.COUNTER:
        args = (draw(st.sampled_from(list(Counter))), args[1])
    payload = draw(st.binary(max_size=64))
    if kind == EventKind.FILE_READ:  # a span of a stored file, never an empty read
        payload, result = draw(st.binary(min_size=40, max_size=40)), draw(st.integers(1, 1 << 30))
    if kind == EventKind.SWITCH:  # a reason, and whole (tid, result, remaining) records
        args = (*args[:2], draw(st.integers(1, MAX_SWITCH_REASON)))
        payload = payload[: len(payload) - len(payload) % SWITCH_WAKE_SIZE]
    icount = draw(st.integers(0, 1 << 40))
    return Event(kind, icount, args, result, payload)


def event_lists(kinds: st.SearchStrategy[EventKind] = ANY_KIND) -> st.SearchStrategy[list[Event]]:
    """Up to 20 valid events of `kinds`, at distinct icounts, in order."""
    return st.lists(valid_event(kinds), max_size=20, unique_by=lambda e: e.icount).map(
        lambda evs: sorted(evs, key=lambda e: e.icount)
    )


events = event_lists()
# Half of them thread switches or more, so that runs of plain rows are common (drawn from
# every kind alike, two switches in a row were rare enough that a writer miscounting a run
# went unnoticed).
switch_heavy_events = event_lists(st.one_of(st.just(EventKind.SWITCH), ANY_KIND))


@settings(suppress_health_check=[HealthCheck.too_slow])  # composite draws, a busy machine
@given(events, st.integers(0, 1000))
def test_round_trip(evs: list[Event], base: int) -> None:
    evs = [Event(e.kind, e.icount + base, e.args, e.result, e.payload) for e in evs]
    assert list(decode_events(encode_events(evs, base), base)) == evs


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(switch_heavy_events, st.lists(st.integers(0, 3), min_size=20, max_size=20))
def test_plain_rows_encode_as_their_events(evs: list[Event], how: list[int]) -> None:
    """Events given to the writer one by one, or (the plain ones) as rows, in runs, with
    batches taken in between, read back as the events themselves, in order: the oracle is
    the events, decoded by the reader every batch goes through."""
    writer = EventLogWriter()
    batches: list[tuple[int, int, bytes]] = []
    plain: list[tuple[int, ...]] = []
    for ev, way in zip(evs, how, strict=False):
        if way and ev.kind == EventKind.SWITCH:  # as a row: its arguments only
            plain.append((ev.icount, *ev.args))
        else:
            writer.extend_plain(EventKind.SWITCH, plain)
            plain = []
            writer.append(ev)
        if way == 3:
            writer.extend_plain(EventKind.SWITCH, plain)
            plain = []
            if (batch := writer.take_batch()) is not None:
                batches.append(batch)
    writer.extend_plain(EventKind.SWITCH, plain)
    if (batch := writer.take_batch()) is not None:
        batches.append(batch)
    read: list[Event] = []
    for first, base, data in batches:
        assert first == len(read)
        read.extend(decode_events(data, base))
        assert base == (read[first - 1].icount if first else 0)
    kept = [Event(e.kind, e.icount, e.args) if how[i] and e.kind == EventKind.SWITCH else e
            for i, e in enumerate(evs)]  # fmt: skip
    assert read == kept
    assert writer.count == len(kept)
    assert writer.unwritten == 0
    by_kind: dict[str, int] = {}
    for e in kept:
        by_kind[e.kind.name] = by_kind.get(e.kind.name, 0) + 1
    assert writer.by_kind == by_kind


@given(st.binary(max_size=200))
def test_garbage_is_a_recording_error_or_decodes(data: bytes) -> None:
    with contextlib.suppress(RecordingError):
        list(decode_events(data, 0))


def test_malformed_events_are_refused_by_name() -> None:
    cases = [
        (Event(EventKind.EXIT, 5, (0,)), "exit event with 1 arguments"),
        (Event(EventKind.SIGNAL, 5, (), 0), "signal event with signal 0"),
        (Event(EventKind.SIGNAL, 5, (), -3), "signal event with signal -3"),
        (Event(EventKind.SWITCH, 5, (1, 2, 0)), "thread switch"),
        (Event(EventKind.SWITCH, 5, (1, 2, 1), 0, b"x"), "thread switch"),
        (Event(EventKind.EXIT, 5, (0, 99)), "exit event with status 0, signal 99"),
        (Event(EventKind.COUNTER, 5, (0, 0x1000)), "counter event for unknown counter 0"),
        (Event(EventKind.COUNTER, 5, (1,)), "counter event with 1 arguments"),
        (Event(EventKind.SYSCALL, 1 << 63, (0,) * 7), "icount 9223372036854775808 out of range"),
    ]
    for event, message in cases:
        with pytest.raises(RecordingError, match=message):
            list(decode_events(encode_events([event], 0), 0))
    same = [Event(EventKind.SYSCALL, 7, (0,) * 7)] * 9
    with pytest.raises(RecordingError, match="too many events at icount 7"):
        list(decode_events(encode_events(same, 0), 0))


def test_a_read_from_a_stored_file_is_encoded_as_a_reference() -> None:
    data = bytes(range(256)) * 40
    files = FileStore()
    digest = files.add("/data", data)
    span = digest + (100).to_bytes(8, "little")
    read = Event(EventKind.SYSCALL, 7, (0, 3, 0x1000, 500, 0, 0, 0), 500, data[100:600], span)
    encoded = encode_events([read], 0)
    assert len(encoded) < 200  # the reference, not the 500 bytes
    (raw,) = decode_events(encoded, 0)
    assert (raw.kind, raw.payload, raw.result) == (EventKind.FILE_READ, span, 500)
    assert files.span(raw.payload, raw.result, "log") == data[100:600]
    for bad_ref, length in ((span, len(data)), (bytes(32) + span[32:], 500)):
        with pytest.raises(RecordingError, match="log: a read"):
            files.span(bad_ref, length, "log")
    for size in (0, 39, 41):
        with pytest.raises(RecordingError, match="file read"):
            list(decode_events(encode_events([Event(EventKind.FILE_READ, 1, read.args, 500,
                                                    bytes(size))], 0), 0))  # fmt: skip
