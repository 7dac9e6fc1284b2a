"""The RSP packet layer, fuzzed: framing, escaping and checksums round-trip; garbage is safe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ttdbg.backend.gdb.commands import parse
from ttdbg.backend.gdb.packets import (
    MAX_PACKET,
    Kind,
    PacketReader,
    checksum,
    escape,
    frame,
    unescape,
)

printable = st.binary(max_size=300).map(lambda b: bytes(x for x in b if x not in b"$#}*"))


@given(st.binary(max_size=2000))
def test_escape_round_trip(data: bytes) -> None:
    escaped = escape(data)
    assert not any(b in escaped for b in b"$#*")
    assert unescape(escaped) == data


@given(st.lists(printable, max_size=5), st.integers(1, 7))
def test_framed_packets_come_back_whole_in_any_chunking(payloads: list[bytes], step: int) -> None:
    stream = b"".join(frame(p) for p in payloads)
    reader = PacketReader()
    got = []
    for i in range(0, len(stream), step):
        got += reader.feed(stream[i : i + step])
    assert [g.payload for g in got if g.kind == Kind.PACKET] == payloads
    assert all(g.kind == Kind.PACKET for g in got)


@given(printable, st.integers(0, 255))
def test_a_wrong_checksum_is_reported_bad(payload: bytes, wrong: int) -> None:
    if wrong == checksum(payload):
        wrong = (wrong + 1) % 256
    packet = b"$" + payload + b"#" + b"%02x" % wrong
    assert [i.kind for i in PacketReader().feed(packet)] == [Kind.BAD]


def test_interrupts_acks_and_noise_between_packets() -> None:
    items = PacketReader().feed(b"+\x03xyz-" + frame(b"g") + b"\x03")
    assert [i.kind for i in items] == [
        Kind.ACK,
        Kind.INTERRUPT,
        Kind.NACK,
        Kind.PACKET,
        Kind.INTERRUPT,
    ]


def test_oversized_packets_are_rejected_not_buffered_forever() -> None:
    body = b"m" * (MAX_PACKET + 100)
    items = PacketReader().feed(frame(body) + frame(b"?"))
    assert [i.kind for i in items] == [Kind.BAD, Kind.PACKET]
    assert items[1].payload == b"?"


@given(st.binary(max_size=500))
def test_garbage_never_raises(data: bytes) -> None:
    for item in PacketReader().feed(data):
        if item.kind == Kind.PACKET:
            parse(item.payload)


@given(st.binary(max_size=200))
def test_any_payload_parses_to_a_request(payload: bytes) -> None:
    parse(payload)
