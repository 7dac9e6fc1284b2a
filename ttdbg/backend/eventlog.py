"""The event log: event kinds, their binary encoding, and the writer and reader, in one place.

Any change to the kinds or the encoding bumps `EVENTLOG_VERSION` (and so the recording format).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from ttdbg.errors import RecordingError

EVENTLOG_VERSION = 1


class EventKind(enum.IntEnum):
    """Every kind of value that enters the guest from outside."""

    START = 1  # identity at start: args (uid, euid, gid, egid), payload AT_RANDOM
    SYSCALL = 2  # a syscall the host answered: args (nr, a0..a5), payload bytes it produced
    CPU = 3  # a host-dependent instruction (rdtsc): args (pc,), result the value
    EXIT = 4  # the program ended: args (status, signal)


@dataclass(frozen=True)
class Event:
    """One logged input: where it happened (icount), what asked, what the outside answered."""

    kind: EventKind
    icount: int
    args: tuple[int, ...] = ()
    result: int = 0
    payload: bytes = field(default=b"", repr=False)

    def describe(self, syscall_names: dict[int, str] | None = None) -> str:
        """A short human form: `read(0, 0x7ffe..., 4096) = 12`."""
        if self.kind == EventKind.SYSCALL and self.args:
            names = syscall_names or {}
            name = names.get(self.args[0], f"syscall_{self.args[0]}")
            shown = ", ".join(hex(a) if a > 0xFFFF else str(a) for a in self.args[1:4])
            return f"{name}({shown}) = {self.result}"
        if self.kind == EventKind.EXIT:
            status, signal = self.args
            return f"exit(signal {signal})" if signal else f"exit({status})"
        return f"{self.kind.name.lower()}{self.args} = {self.result}"


def _put_uvarint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 70:
            raise RecordingError("event log: truncated or malformed number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def encode_events(events: list[Event], previous_icount: int) -> bytes:
    """Encode a batch of events; icounts are stored as deltas from `previous_icount`."""
    out = bytearray()
    last = previous_icount
    for ev in events:
        out.append(int(ev.kind))
        _put_uvarint(out, ev.icount - last)
        last = ev.icount
        out.append(len(ev.args))
        for arg in ev.args:
            _put_uvarint(out, arg & ((1 << 64) - 1))
        _put_uvarint(out, (ev.result << 1) ^ (ev.result >> 63))  # zigzag
        _put_uvarint(out, len(ev.payload))
        out += ev.payload
    return bytes(out)


def decode_events(data: bytes, previous_icount: int) -> Iterator[Event]:
    """Decode a batch made by `encode_events`; RecordingError on anything malformed."""
    pos = 0
    last = previous_icount
    while pos < len(data):
        try:
            kind = EventKind(data[pos])
        except ValueError:
            raise RecordingError(f"event log: unknown event kind {data[pos]}") from None
        delta, pos = _get_uvarint(data, pos + 1)
        last += delta
        if pos >= len(data):
            raise RecordingError("event log: truncated event")
        nargs = data[pos]
        pos += 1
        args = []
        for _ in range(nargs):
            arg, pos = _get_uvarint(data, pos)
            args.append(arg)
        zig, pos = _get_uvarint(data, pos)
        result = (zig >> 1) ^ -(zig & 1)
        size, pos = _get_uvarint(data, pos)
        if pos + size > len(data):
            raise RecordingError("event log: truncated payload")
        yield Event(kind, last, tuple(args), result, data[pos : pos + size])
        pos += size


class EventLogWriter:
    """Collects events as they happen and hands them out in encoded batches."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.count = 0
        self.last_icount = 0  # icount of the last event already handed out
        self.by_kind: dict[str, int] = {}

    def append(self, event: Event) -> None:
        self.pending.append(event)
        self.count += 1
        self.by_kind[event.kind.name] = self.by_kind.get(event.kind.name, 0) + 1

    def take_batch(self) -> tuple[int, int, bytes] | None:
        """(first index, base icount, encoded bytes) of the pending events, or None."""
        if not self.pending:
            return None
        first = self.count - len(self.pending)
        base = self.last_icount
        data = encode_events(self.pending, base)
        self.last_icount = self.pending[-1].icount
        self.pending = []
        return first, base, data


class EventLogReader:
    """The events of a recording, in order, with a cursor that replay advances."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.cursor = 0

    def next(self) -> Event | None:
        if self.cursor >= len(self.events):
            return None
        ev = self.events[self.cursor]
        self.cursor += 1
        return ev

    def __len__(self) -> int:
        return len(self.events)
