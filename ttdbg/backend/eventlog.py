"""The event log: event kinds, their binary encoding, and the writer and reader, in one place.

Any change to the kinds or the encoding bumps `EVENTLOG_VERSION` (and so the recording format).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ttdbg.errors import RecordingError

from .arch.counters import Counter

EVENTLOG_VERSION = 5  # 3: SERIAL events, 4: FILE_READ events, 5: MAPPED_FILE events


class EventKind(enum.IntEnum):
    """Every kind of value that enters the guest from outside."""

    START = 1  # identity at start: args (uid, euid, gid, egid), payload AT_RANDOM
    SYSCALL = 2  # a syscall the host answered: args (nr, a0..a5), payload bytes it produced
    COUNTER = 3  # a CPU time counter read (rdtsc...): args (counter, pc), result its value
    EXIT = 4  # the program ended: args (status, signal)
    SIGNAL = 5  # a signal from outside (Ctrl-C...) delivered here: result the signal number
    # The scheduler switched threads before this icount: args (from tid, to tid, why), payload
    # the waits that ended from outside (timeouts, signals) as (tid, result, remaining ns).
    SWITCH = 6
    # Bytes a firmware machine's serial port received at this icount: args (port,), payload
    # the bytes put into its receive FIFO.
    SERIAL = 7
    # On disk only: a SYSCALL whose payload is a span of a file the recording stores, kept as
    # a reference (payload: sha256 | u64 offset) so the bytes are stored once. Opening the
    # recording turns it back into a SYSCALL with the bytes (`Event.span` keeps the reference).
    FILE_READ = 8
    # A file the guest maps shared changed in this syscall (a write, a truncation): args
    # (file ident, its size now), payload its bytes that differ from what the mappings showed,
    # as (u64 file offset, u32 length, bytes) runs.
    MAPPED_FILE = 9


@dataclass(frozen=True)
class Event:
    """One logged input: where it happened (icount), what asked, what the outside answered."""

    kind: EventKind
    icount: int
    args: tuple[int, ...] = ()
    result: int = 0
    payload: bytes = field(default=b"", repr=False)
    # Where `payload` lies in a stored file (sha256 | u64 offset), or b"": then the encoding
    # keeps the reference instead of the bytes.
    span: bytes = field(default=b"", repr=False, compare=False)

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
        if self.kind == EventKind.SIGNAL:
            return f"signal {self.result} from outside"
        if self.kind == EventKind.COUNTER:
            counter, pc = self.args  # checked when read: a known counter
            return f"counter {Counter(counter).name.lower()} at {pc:#x} = {self.result}"
        if self.kind == EventKind.SWITCH and len(self.args) == 3:
            return f"switch thread {self.args[0]} -> {self.args[1]}"
        if self.kind == EventKind.MAPPED_FILE and len(self.args) == 2:
            return f"mapped file {self.args[0]} now {self.args[1]} bytes"
        if self.kind == EventKind.SERIAL and self.args:
            return f"serial {self.args[0]} received {self.payload!r}"
        return f"{self.kind.name.lower()}{self.args} = {self.result}"


# One event: kind, icount delta, argument count, result, payload length; then the arguments
# (u64 each) and the payload. Fixed widths keep encoding to one struct call per event; the
# batch is lz4-compressed afterwards, which removes the zero bytes fixed widths leave.
_HEAD = struct.Struct("<BQBqI")
_ARGS = [struct.Struct(f"<{n}Q") for n in range(256)]
_MASK = (1 << 64) - 1


# An event with arguments only (no result, no payload): its head and arguments in one struct.
_PLAIN = [struct.Struct(f"{_HEAD.format}{n}Q") for n in range(8)]


def encode_events(events: list[Event], previous_icount: int) -> bytes:
    """Encode a batch of events; icounts are stored as deltas from `previous_icount`."""
    parts: list[bytes] = []
    last = previous_icount
    for ev in events:
        kind, payload = (EventKind.FILE_READ, ev.span) if ev.span else (ev.kind, ev.payload)
        parts.append(_HEAD.pack(kind, ev.icount - last, len(ev.args), ev.result, len(payload)))
        parts.append(_ARGS[len(ev.args)].pack(*(a & _MASK for a in ev.args)))
        parts.append(payload)
        last = ev.icount
    return b"".join(parts)


# The argument count of each kind, and what its signal number is, checked when reading.
ARG_COUNTS = {
    EventKind.START: 0,
    EventKind.SYSCALL: 7,
    EventKind.COUNTER: 2,
    EventKind.EXIT: 2,
    EventKind.SIGNAL: 0,
    EventKind.SWITCH: 3,
    EventKind.SERIAL: 1,
    EventKind.FILE_READ: 7,
    EventKind.MAPPED_FILE: 2,
}
SPAN_SIZE = 40  # a FILE_READ payload: sha256 of the stored file, u64 offset in it
SWITCH_WAKE_SIZE = 20  # a SWITCH payload is (u32 tid, i64 result, i64 remaining ns) records
MAX_SWITCH_REASON = 5
MAX_SIGNAL = 64
MAX_ICOUNT = (1 << 63) - 1
# A batch holds at most this many events (the recorder writes far fewer), and no more than
# this many events share one icount: a syscall, the exit it causes, a thread switch, a signal.
MAX_BATCH_EVENTS = 1 << 16
MAX_EVENTS_AT_ONE_ICOUNT = 8


def _check_event(kind: EventKind, args: tuple[int, ...], result: int, payload: int = 0) -> None:
    if len(args) != ARG_COUNTS[kind]:
        raise RecordingError(f"event log: {kind.name.lower()} event with {len(args)} arguments")
    if kind == EventKind.EXIT and not (args[0] <= 0xFF and args[1] <= MAX_SIGNAL):
        raise RecordingError(f"event log: exit event with status {args[0]}, signal {args[1]}")
    if kind == EventKind.SIGNAL and not 1 <= result <= MAX_SIGNAL:
        raise RecordingError(f"event log: signal event with signal {result}")
    if kind == EventKind.COUNTER and args[0] not in Counter._value2member_map_:
        raise RecordingError(f"event log: counter event for unknown counter {args[0]}")
    if kind == EventKind.SWITCH and (
        not 1 <= args[2] <= MAX_SWITCH_REASON or payload % SWITCH_WAKE_SIZE
    ):
        raise RecordingError(f"event log: thread switch {args} with {payload} payload bytes")
    if kind == EventKind.FILE_READ and (payload != SPAN_SIZE or result <= 0):
        raise RecordingError(f"event log: file read of {result} bytes with {payload} byte span")


def decode_events(data: bytes, previous_icount: int) -> Iterator[Event]:
    """Decode a batch made by `encode_events`; RecordingError on anything malformed: unknown
    kinds, wrong argument counts, signals out of range, icounts past 2^63, too many events."""
    pos = 0
    last = previous_icount
    size = len(data)
    count = same = 0
    while pos < size:
        if pos + _HEAD.size > size:
            raise RecordingError("event log: truncated event")
        kind_raw, delta, nargs, result, plen = _HEAD.unpack_from(data, pos)
        try:
            kind = EventKind(kind_raw)
        except ValueError:
            raise RecordingError(f"event log: unknown event kind {kind_raw}") from None
        pos += _HEAD.size
        args_fmt = _ARGS[nargs]
        if pos + args_fmt.size + plen > size:
            raise RecordingError("event log: truncated event")
        args = args_fmt.unpack_from(data, pos)
        _check_event(kind, args, result, plen)
        pos += args_fmt.size
        last += delta
        same = same + 1 if delta == 0 else 1
        count += 1
        if last > MAX_ICOUNT:
            raise RecordingError(f"event log: icount {last} out of range")
        if same > MAX_EVENTS_AT_ONE_ICOUNT:
            raise RecordingError(f"event log: too many events at icount {last}")
        if count > MAX_BATCH_EVENTS:
            raise RecordingError(f"event log: more than {MAX_BATCH_EVENTS} events in one batch")
        yield Event(kind, last, args, result, data[pos : pos + plen])
        pos += plen


class EventLogWriter:
    """Collects events as they happen and hands them out in encoded batches."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        # The batch's events before `pending`, already encoded (in order), how many, and the
        # icount of the last of them (`last_icount` while there are none).
        self._encoded: list[bytes] = []
        self._encoded_count = 0
        self._encoded_last = 0
        self.count = 0
        self.last_icount = 0  # icount of the last event already handed out
        self._counts: dict[EventKind, int] = {}

    @property
    def by_kind(self) -> dict[str, int]:
        """How many events of each kind, by the kind's name."""
        return {kind.name: n for kind, n in self._counts.items()}

    @property
    def unwritten(self) -> int:
        """How many events the next batch holds."""
        return self._encoded_count + len(self.pending)

    def append(self, event: Event) -> None:
        self.pending.append(event)
        self.count += 1
        # Keyed by the kind itself: an enum's `.name` is a slow property, and this runs at
        # every event (a thread switch is one).
        self._counts[event.kind] = self._counts.get(event.kind, 0) + 1

    def extend_plain(self, kind: EventKind, rows: Sequence[tuple[int, ...]]) -> None:
        """Append events of one kind with arguments only (result 0, no payload), given as
        (icount, *args) rows in order: encoded here at once, without an Event each (the
        native thread switches come by the thousand, and an Event costs more than its
        encoding)."""
        if not rows:
            return
        self._encode_pending()
        nargs = len(rows[0]) - 1
        pack = _PLAIN[nargs].pack
        last = self._encoded_last
        parts = []
        for row in rows:
            icount = row[0]
            parts.append(pack(kind, icount - last, nargs, 0, 0, *row[1:]))
            last = icount
        self._encoded.append(b"".join(parts))
        self._encoded_count += len(rows)
        self._encoded_last = last
        self.count += len(rows)
        self._counts[kind] = self._counts.get(kind, 0) + len(rows)

    def _encode_pending(self) -> None:
        if self.pending:
            self._encoded.append(encode_events(self.pending, self._encoded_last))
            self._encoded_count += len(self.pending)
            self._encoded_last = self.pending[-1].icount
            self.pending = []

    def take_batch(self) -> tuple[int, int, bytes] | None:
        """(first index, base icount, encoded bytes) of the unwritten events, or None."""
        if not self.unwritten:
            return None
        first = self.count - self.unwritten
        base = self.last_icount
        self._encode_pending()
        data = b"".join(self._encoded)
        self.last_icount = self._encoded_last
        self._encoded, self._encoded_count = [], 0
        return first, base, data


class EventLogReader:
    """The events of a recording, in order, with a cursor that replay advances."""

    def __init__(self, events: Sequence[Event]) -> None:
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
