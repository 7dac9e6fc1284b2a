"""The event log encoding round-trips every event and rejects malformed bytes cleanly."""

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from ttdbg.backend.eventlog import Event, EventKind, decode_events, encode_events
from ttdbg.errors import RecordingError

events = st.lists(
    st.builds(
        Event,
        kind=st.sampled_from(list(EventKind)),
        icount=st.integers(0, 1 << 40),
        args=st.lists(st.integers(0, (1 << 64) - 1), max_size=7).map(tuple),
        result=st.integers(-(1 << 63), (1 << 63) - 1),
        payload=st.binary(max_size=64),
    ),
    max_size=20,
).map(lambda evs: sorted(evs, key=lambda e: e.icount))


@given(events, st.integers(0, 1000))
def test_round_trip(evs: list[Event], base: int) -> None:
    evs = [Event(e.kind, e.icount + base, e.args, e.result, e.payload) for e in evs]
    assert list(decode_events(encode_events(evs, base), base)) == evs


@given(st.binary(max_size=200))
def test_garbage_is_a_recording_error_or_decodes(data: bytes) -> None:
    with contextlib.suppress(RecordingError):
        list(decode_events(data, 0))
