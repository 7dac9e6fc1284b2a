"""File offsets for provenance: which syscalls read a file into memory and from where, and how
each syscall moves the offset of the open-file descriptions it names (tables, not branches)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ttdbg.backend.eventlog import SPAN_SIZE, Event

ALL_ONES = (1 << 64) - 1  # an argument of -1 as its register holds it
IOVEC = 16  # struct iovec: base, length


O_APPEND = 0o2000  # the same bit on x86-64, AArch64 and RISC-V 64


@dataclass(frozen=True)
class Moves:
    """The call moves the offset of its descriptor argument `fd` by its result, or sets it to
    its result; with `only_if`, only when that argument holds `value` (a NULL offset pointer,
    preadv2's offset -1). A write (`appends`) to a description opened O_APPEND first goes to
    the file's end: the offset after it is the file's size then, which the recording logs as
    the call's payload (8 bytes, little-endian)."""

    fd: int
    sets: bool = False
    only_if: int | None = None
    value: int = 0
    appends: bool = False


# Every call that changes an offset (arguments counted from 0, the syscall number not among
# them). pread64, pwrite64, preadv and pwritev leave it alone (an O_APPEND file's too, though
# they append there); so do the `2` forms given an offset, and sendfile/copy_file_range for a
# descriptor given an offset pointer (neither writes to an O_APPEND file: EINVAL, EBADF).
OFFSET_MOVES: dict[str, tuple[Moves, ...]] = {
    "read": (Moves(0),), "write": (Moves(0, appends=True),), "readv": (Moves(0),),
    "writev": (Moves(0, appends=True),), "lseek": (Moves(0, sets=True),),
    "preadv2": (Moves(0, only_if=3, value=ALL_ONES),),
    "pwritev2": (Moves(0, only_if=3, value=ALL_ONES, appends=True),),
    "sendfile": (Moves(0), Moves(1, only_if=2, value=0)),
    "copy_file_range": (Moves(0, only_if=1, value=0), Moves(2, only_if=3, value=0)),
}  # fmt: skip


@dataclass(frozen=True)
class Reads:
    """A call that reads its descriptor (argument 0) into memory: into the buffer at argument
    1, or the iovec array there (`vector`, its length at argument 2); from the file's own
    offset, or from the offset at argument `at` unless that is -1 (`own_if_minus_one`)."""

    vector: bool = False
    at: int | None = None
    own_if_minus_one: bool = False


READS: dict[str, Reads] = {
    "read": Reads(), "pread64": Reads(at=3),
    "readv": Reads(vector=True), "preadv": Reads(vector=True, at=3),
    "preadv2": Reads(vector=True, at=3, own_if_minus_one=True),
}  # fmt: skip


def _arg(ev: Event, i: int) -> int:
    return ev.args[1 + i] & ALL_ONES


def position_in_read(
    reads: Reads, ev: Event, addr: int, memory: Callable[[int, int], bytes]
) -> int | None:
    """Which byte of what `ev` read landed at `addr` (the last one, if buffers overlap), or
    None when none did; `memory` reads the guest's memory at the call."""
    if not reads.vector:
        pos = addr - _arg(ev, 1)
        return pos if 0 <= pos < ev.result else None
    count = _arg(ev, 2)
    if count > 1024:
        return None
    raw = memory(_arg(ev, 1), IOVEC * count)
    found, done = None, 0
    for base, length in struct.iter_unpack("<QQ", raw):
        take = min(length, ev.result - done)
        if take <= 0:
            break
        if base <= addr < base + take:
            found = done + addr - base
        done += take
    return found


def stated_start(reads: Reads, ev: Event) -> int | None:
    """The file offset `ev`'s read started at when the event itself says: its offset
    argument, or where in the stored file its bytes lie; None when only the calls before it
    can tell (`replayed_start`)."""
    if reads.at is not None and not (reads.own_if_minus_one and _arg(ev, reads.at) == ALL_ONES):
        return _arg(ev, reads.at)
    if len(ev.span) == SPAN_SIZE:
        return int.from_bytes(ev.span[32:40], "little")
    return None


# A description as `replayed_start` needs it: its ident and its open flags.
Description = tuple[int, int]


def replayed_start(
    ev: Event,
    names: dict[int, str],
    earlier: Iterable[Event],
    description: Callable[[Event, int], Description | None],
) -> int | None:
    """The offset of the open-file description `ev` read from, replayed from the calls before
    it that moved it (through any descriptor naming that description: dup, dup2, dup3 and
    fcntl(F_DUPFD) share it); None when an appending write there left no logged offset (a
    recording made before ttdbg logged them). `description(call, fd)`: the description
    the descriptor `fd` names at `call` (None: no open descriptor); the first call is
    `description(ev, fd)`, the later ones in time order."""
    mine = description(ev, _arg(ev, 0))
    if mine is None:
        return 0
    offset = 0
    for other in earlier:
        if other.icount >= ev.icount:
            break
        moves = OFFSET_MOVES.get(names.get(other.args[0], ""), ())
        if other.result < 0:
            continue
        for move in moves:
            if move.only_if is not None and _arg(other, move.only_if) != move.value:
                continue
            found = description(other, _arg(other, move.fd))
            if found is None or found[0] != mine[0]:
                continue
            if move.appends and found[1] & O_APPEND:
                if len(other.payload) != 8:
                    return None
                offset = int.from_bytes(other.payload, "little")
            else:
                offset = other.result if move.sets else offset + other.result
    return offset
