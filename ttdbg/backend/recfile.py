"""The .ttrec container: magic and version, CRC-checked frames, an index and its trailer.

Layout: MAGIC, u16 version, then frames `u8 type | u32 length | u32 crc32 | payload`, the last
of which is an INDEX frame followed by a 16-byte trailer (`u64 index offset | TRAILER`). The
writer only appends and flushes after every frame, so a recorder killed at any moment leaves
a prefix of complete frames that the reader recovers by scanning; the index is a shortcut.
"""

from __future__ import annotations

import enum
import json
import os
import stat
import struct
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import lz4.frame

from ttdbg.errors import RecordingError
from ttdbg.limits import MAX_ARGS_BYTES, MAX_COUNT
from ttdbg.lz4limit import decompress

MAGIC = b"TTDBGREC"
FORMAT_VERSION = 1
TRAILER = b"TTDBGIDX"
_FRAME = struct.Struct("<BII")
_VERSION = struct.Struct("<H")
_TRAILER = struct.Struct("<Q8s")
_READ_PIECE = 1 << 20
LAZY_HEAD = 64  # bytes of a lazily read frame kept in memory: its fixed fields


class FrameType(enum.IntEnum):
    HEADER = 1  # JSON: arch, platform, argv, env, program name, settings
    PROGRAM = 2  # the guest ELF image
    EVENTS = 3  # u64 first event index, u64 base icount, lz4 batch of encoded events
    SNAPSHOT = 4  # u64 icount, u8 keyframe, encoded snapshot
    END = 5  # JSON: total icount, exit status, why it ended
    INDEX = 6  # JSON: offsets of every frame by type
    FILE = 7  # a file the guest mapped or read: sha256 | u16 path length | path | lz4 content
    # (empty when a frame before it holds the same content)


@dataclass(frozen=True)
class Frame:
    """One frame; for a frame read lazily `payload` holds only its first bytes (`head`) and
    `read_payload` fetches the rest when it is needed."""

    type: FrameType
    offset: int
    payload: bytes
    length: int = -1  # the payload's full length; -1 when `payload` is all of it
    crc: int = 0
    source: PayloadSource | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.payload) if self.length < 0 else self.length


class PayloadSource:
    """The recording file, kept open for the payloads of lazily read frames: the descriptor
    stays valid if the file is renamed or deleted while the recording is open."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        weakref.finalize(self, os.close, fd)

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)


class RecordingWriter:
    """Appends frames to a new recording file, flushing each one to the OS."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 - kept open while recording
        self._f.write(MAGIC + _VERSION.pack(FORMAT_VERSION))
        self._offsets: dict[str, list[int]] = {}
        self.bytes_written = len(MAGIC) + _VERSION.size

    def write(self, ftype: FrameType, payload: bytes) -> int:
        offset = self._f.tell()
        self._f.write(encode_frame(ftype, payload))
        self._f.flush()
        self._offsets.setdefault(ftype.name, []).append(offset)
        self.bytes_written = offset + _FRAME.size + len(payload)
        return offset

    def write_json(self, ftype: FrameType, value: dict[str, Any]) -> int:
        return self.write(ftype, json.dumps(value, separators=(",", ":")).encode())

    def abandon(self) -> None:
        """Close without an index, leaving what a killed recorder leaves."""
        self._f.close()

    def close(self) -> None:
        """Write the index and trailer; the file is complete after this."""
        index_offset = self.write_json(FrameType.INDEX, {"offsets": self._offsets})
        self._f.write(_TRAILER.pack(index_offset, TRAILER))
        self._f.close()


def _head_crc(ftype: int, length: int) -> int:
    """The CRC of a frame's type and length: its checksum covers them, then the payload."""
    return zlib.crc32(_FRAME.pack(ftype, length, 0)[:5])


def _frame_crc(ftype: int, payload: bytes) -> int:
    return zlib.crc32(payload, _head_crc(ftype, len(payload)))


def encode_frame(ftype: int, payload: bytes) -> bytes:
    """One frame: type, length, the checksum of those and the payload, then the payload."""
    return _FRAME.pack(ftype, len(payload), _frame_crc(ftype, payload)) + payload


def _open_regular(path: str) -> BinaryIO:
    """The recording opened for reading: a regular file only (a FIFO or a device would block
    or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory") from None
    except OSError as err:
        raise RecordingError(f"{path}: cannot read ({err.strerror})") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise RecordingError(f"{path}: is a directory")
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise RecordingError(f"{path}: not a regular file")
    return os.fdopen(fd, "rb")


def _read_checked(f: BinaryIO, ftype: int, length: int, crc: int, keep: int) -> bytes | None:
    """Read a payload of `length` bytes in pieces, checking its CRC; returns its first `keep`
    bytes, or None when the checksum does not match."""
    check = _head_crc(ftype, length)
    kept = b""
    left = length
    while left:
        piece = f.read(min(left, _READ_PIECE))
        if not piece:
            raise RecordingError("file shrank while being read")
        check = zlib.crc32(piece, check)
        if len(kept) < keep:
            kept += piece[: keep - len(kept)]
        left -= len(piece)
    return kept if check == crc else None


def read_frames(path: str, lazy: frozenset[FrameType] = frozenset()) -> tuple[list[Frame], bool]:
    """Every complete frame of a recording, and whether the file ends without its index.

    Frames of a type in `lazy` keep only their first LAZY_HEAD bytes in memory (their CRC is
    checked all the same); `read_payload` reads them whole later. Memory is bounded by the
    largest frame read whole, not by the file. Raises RecordingError for a file that is
    missing, not a regular file, not a recording, too new, or has a frame whose checksum does
    not match.
    """
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        start = f.read(len(MAGIC) + _VERSION.size)
        if not start.startswith(MAGIC):
            raise RecordingError(f"{path}: not a ttdbg recording")
        if len(start) < len(MAGIC) + _VERSION.size:
            raise RecordingError(f"{path}: truncated header")
        (version,) = _VERSION.unpack_from(start, len(MAGIC))
        if version > FORMAT_VERSION:
            raise RecordingError(
                f"{path}: recording format version {version} is newer than this ttdbg reads "
                f"(version {FORMAT_VERSION}); upgrade ttdbg"
            )
        if version < 1:
            raise RecordingError(f"{path}: unknown recording format version {version}")
        pos = len(start)
        frames: list[Frame] = []
        complete = False
        source = PayloadSource(path, os.dup(f.fileno())) if lazy else None
        while pos + _FRAME.size <= size:
            f.seek(pos)
            ftype, length, crc = _FRAME.unpack(f.read(_FRAME.size))
            end = pos + _FRAME.size + length
            if end > size:
                break  # a frame cut short: the recorder stopped while writing it
            is_lazy = ftype in lazy
            payload = _read_checked(f, ftype, length, crc, LAZY_HEAD if is_lazy else length)
            if payload is None:
                raise RecordingError(f"{path}: corrupt frame at offset {pos} (checksum mismatch)")
            try:
                kind = FrameType(ftype)
            except ValueError:
                raise RecordingError(
                    f"{path}: unknown frame type {ftype} at offset {pos}"
                ) from None
            if is_lazy:
                frames.append(Frame(kind, pos, payload, length, crc, source))
            else:
                frames.append(Frame(kind, pos, payload))
            pos = end
            if kind == FrameType.INDEX:
                rest = f.read(_TRAILER.size + 1)
                if len(rest) == _TRAILER.size and _TRAILER.unpack(rest)[1] == TRAILER:
                    complete = True
                    pos = size
                break
    if pos != size and complete:
        raise RecordingError(f"{path}: unexpected bytes after the index")
    if pos < size and not complete and frames and frames[-1].type == FrameType.INDEX:
        raise RecordingError(f"{path}: corrupt trailer")
    return frames, not complete


def read_payload(path: str, frame: Frame) -> bytes:
    """The whole payload of a frame read lazily, checked against its CRC again (the file may
    have changed since it was opened)."""
    if frame.source is None:
        return frame.payload
    data = frame.source.read(frame.offset + _FRAME.size, frame.length)
    if len(data) != frame.length or _frame_crc(frame.type, data) != frame.crc:
        raise RecordingError(f"{path}: frame at offset {frame.offset} changed since it was read")
    return data


def load_json(frame: Frame, path: str) -> dict[str, Any]:
    try:
        value = json.loads(frame.payload)
    except (ValueError, UnicodeDecodeError):
        raise RecordingError(f"{path}: corrupt {frame.type.name.lower()} frame") from None
    if not isinstance(value, dict):
        raise RecordingError(f"{path}: corrupt {frame.type.name.lower()} frame")
    return value


def file_size(path: str) -> int:
    return os.path.getsize(path)


# -- frame layouts -----------------------------------------------------------------------------

# EVENTS: u64 index of its first event, u64 icount the batch's deltas start from, lz4 events.
EVENTS_HEAD = struct.Struct("<QQ")
# SNAPSHOT: u64 icount, u8 keyframe, 16-byte state hash, lz4 encoded snapshot.
SNAPSHOT_HEAD = struct.Struct("<QB16s")


@dataclass(frozen=True)
class SnapshotFrame:
    """A SNAPSHOT frame's fixed fields, and how to read its still-compressed snapshot."""

    icount: int
    keyframe: bool
    state_hash: str
    size: int  # of the compressed snapshot
    load: Callable[[], bytes]


def encode_events_frame(first: int, base: int, events: bytes) -> bytes:
    return EVENTS_HEAD.pack(first, base) + lz4.frame.compress(events)


def events_frame_head(frame: Frame, path: str) -> tuple[int, int]:
    """(first event index, base icount) of an EVENTS frame, checked, without inflating it."""
    where = f"{path}: event frame at offset {frame.offset}"
    if len(frame.payload) < EVENTS_HEAD.size:
        raise RecordingError(f"{where}: too short")
    first, base = EVENTS_HEAD.unpack_from(frame.payload)
    if base > MAX_COUNT:
        raise RecordingError(f"{where}: icount {base} out of range")
    if first > MAX_COUNT:
        raise RecordingError(f"{where}: event index {first} out of range")
    return first, base


def decode_events_frame(frame: Frame, path: str, limit: int) -> tuple[int, int, bytes]:
    """(first event index, base icount, encoded events) of an EVENTS frame, inflating at most
    `limit` bytes."""
    first, base = events_frame_head(frame, path)
    where = f"{path}: event frame at offset {frame.offset}"
    return first, base, decompress(frame.payload[EVENTS_HEAD.size :], limit, where)


def encode_snapshot_frame(icount: int, keyframe: bool, state_hash: str, data: bytes) -> bytes:
    return SNAPSHOT_HEAD.pack(icount, int(keyframe), bytes.fromhex(state_hash)) + data


def decode_snapshot_frame(frame: Frame, path: str) -> SnapshotFrame:
    """The fixed fields of a SNAPSHOT frame (read whole or lazily); its snapshot is read
    from the file, CRC-checked again, only when `load` is called."""
    where = f"{path}: snapshot frame at offset {frame.offset}"
    if frame.size < SNAPSHOT_HEAD.size:
        raise RecordingError(f"{where}: too short")
    icount, keyframe, digest = SNAPSHOT_HEAD.unpack_from(frame.payload)
    if icount > MAX_COUNT or keyframe > 1:
        raise RecordingError(f"{where}: corrupt fixed fields")

    def load() -> bytes:
        return read_payload(path, frame)[SNAPSHOT_HEAD.size :]

    return SnapshotFrame(
        icount, bool(keyframe), digest.hex(), frame.size - SNAPSHOT_HEAD.size, load
    )


def decode_program_frame(frame: Frame, path: str, limit: int) -> bytes:
    return decompress(frame.payload, limit, f"{path}: program frame")


# -- HEADER and END fields ---------------------------------------------------------------------


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) for s in value)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _counts_by_name(value: Any) -> bool:
    return isinstance(value, dict) and all(_count(v) for v in value.values())


# name: (check, what it must be, required). Fields added later are optional so that older
# recordings still open; a reader uses `.get(name, default)` for those.
_Field = tuple[Callable[[Any], bool], str, bool]
HEADER_FIELDS: dict[str, _Field] = {
    "ttdbg_version": (_text, "a string", False),
    "eventlog_version": (_count, "a count", True),
    "arch": (_text, "a string", True),
    "platform": (_text, "a string", False),
    "platform_version": (_count, "a count", True),
    "cpu_model": (_count, "a count", False),
    "program": (_text, "a string", True),
    "execfn": (_text, "a string", True),
    "argv": (_strings, "a list of strings", True),
    "env": (_strings, "a list of strings", True),
    "interp": (_optional(_text), "a string or null", False),
    "snapshot_every": (lambda v: _count(v) and v > 0, "a positive count", True),
    "state_hash_version": (lambda v: v in (1, 2) and type(v) is int, "1 or 2", False),
    "memory_limit": (lambda v: _count(v) and v > 0, "a positive count", False),
    "recorded_at": (_text, "a string", False),
    # Firmware recordings: the machine by QEMU's name, its CPU and the icount shift.
    "machine": (_text, "a string", False),
    "cpu": (_text, "a string", False),
    "icount_shift": (lambda v: _count(v) and v <= 10, "a count up to 10", False),
}


def _fault(value: Any) -> bool:
    """A firmware guest fault: {"pc": count, "signal": 1..64, "detail": string}."""
    return (
        isinstance(value, dict)
        and set(value) == {"pc", "signal", "detail"}
        and _count(value["pc"])
        and type(value["signal"]) is int
        and 1 <= value["signal"] <= 64
        and isinstance(value["detail"], str)
        and len(value["detail"]) <= MAX_FAULT_DETAIL
    )


MAX_FAULT_DETAIL = 1000  # characters of a fault's description
END_FIELDS: dict[str, _Field] = {
    "icount": (_count, "a count", True),
    "reason": (_text, "a string", True),
    "exit_status": (_optional(_count), "a count or null", False),
    "exit_signal": (_optional(_count), "a count or null", False),
    "enosys": (_counts_by_name, "an object of counts", False),
    "unoffered": (_counts_by_name, "an object of counts", False),
    "events": (_count, "a count", False),
    "events_by_kind": (_counts_by_name, "an object of counts", False),
    "snapshots": (_count, "a count", False),
    "snapshot_bytes_raw": (_count, "a count", False),
    "snapshot_bytes_compressed": (_count, "a count", False),
    "files": (_count, "a count", False),
    "opened_files": (_strings, "a list of strings", False),
    "inline_reads": (_counts_by_name, "an object of counts", False),
    # Firmware: the guest fault the recording ended with (where, gdb's signal, what).
    "fault": (_fault, "a fault (pc, signal 1-64, detail)", False),
}


def check_fields(value: dict[str, Any], fields: dict[str, _Field], what: str) -> None:
    """RecordingError naming the first field of `value` that is missing or of the wrong type."""
    for name, (check, expected, required) in fields.items():
        if name not in value:
            if required:
                raise RecordingError(f"{what}: field {name!r} is missing")
        elif not check(value[name]):
            raise RecordingError(f"{what}: field {name!r} is not {expected}")


def load_header(frame: Frame, path: str) -> dict[str, Any]:
    header = load_json(frame, path)
    check_fields(header, HEADER_FIELDS, f"{path}: header")
    size = sum(len(s) + 1 for s in header["argv"] + header["env"])
    if size > MAX_ARGS_BYTES:
        raise RecordingError(f"{path}: header: argv and environment take {size:,} bytes")
    return header


def load_end(frame: Frame, path: str) -> dict[str, Any]:
    end = load_json(frame, path)
    check_fields(end, END_FIELDS, f"{path}: end frame")
    return end
