"""Parsing RSP payloads into typed requests; anything unexpected becomes Unknown or Malformed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .packets import unescape

# gdb's numbers are plain hex digits; int(x, 16) would also take "-1", " 1" and "1_0".
_HEX = re.compile(rb"[0-9a-fA-F]{1,32}")


@dataclass(frozen=True)
class Request:
    """A parsed gdb packet."""


@dataclass(frozen=True)
class Unknown(Request):
    payload: bytes


@dataclass(frozen=True)
class Malformed(Request):
    payload: bytes
    why: str


@dataclass(frozen=True)
class Supported(Request):
    features: tuple[str, ...]


@dataclass(frozen=True)
class SimpleQuery(Request):
    """A query answered from a table: qC, qAttached, qOffsets, qfThreadInfo, ..."""

    name: str


@dataclass(frozen=True)
class StartNoAck(Request):
    pass


@dataclass(frozen=True)
class Xfer(Request):
    obj: str
    annex: str
    offset: int
    length: int


@dataclass(frozen=True)
class Monitor(Request):
    command: str


@dataclass(frozen=True)
class HaltReason(Request):
    pass


@dataclass(frozen=True)
class ReadRegisters(Request):
    pass


@dataclass(frozen=True)
class WriteRegisters(Request):
    pass


@dataclass(frozen=True)
class ReadRegister(Request):
    number: int


@dataclass(frozen=True)
class WriteRegister(Request):
    number: int


@dataclass(frozen=True)
class ReadMemory(Request):
    addr: int
    length: int


@dataclass(frozen=True)
class WriteMemory(Request):
    addr: int
    data: bytes


@dataclass(frozen=True)
class SetBreak(Request):
    insert: bool
    type: int  # 0 software, 1 hardware, 2 write, 3 read, 4 access watchpoint
    addr: int
    kind: int  # instruction length for breakpoints, byte length for watchpoints


@dataclass(frozen=True)
class Resume(Request):
    step: bool
    reverse: bool = False
    thread: int = 0  # the thread a vCont step names (0: gdb's selected one)


@dataclass(frozen=True)
class VContQuery(Request):
    pass


@dataclass(frozen=True)
class SetThread(Request):
    op: str
    tid: int  # 0: any thread, -1: all threads


@dataclass(frozen=True)
class ThreadAlive(Request):
    tid: int


@dataclass(frozen=True)
class Detach(Request):
    pass


@dataclass(frozen=True)
class Kill(Request):
    pass


@dataclass(frozen=True)
class VFile(Request):
    op: str
    args: tuple[bytes, ...]


def hex_number(text: bytes) -> int:
    """A gdb number: hex digits only (no sign, spaces or underscores)."""
    if _HEX.fullmatch(text) is None:
        raise ValueError(f"not a hex number: {text[:40]!r}")
    return int(text, 16)


def _parse_vcont(payload: bytes) -> Request:
    actions = payload[len(b"vCont;") :].split(b";")
    # One thread runs at a time: a step of one thread (the others run or wait as the
    # recording says) or a continue of all; the first step or continue action decides.
    for action in actions:
        verb, _, thread = action.partition(b":")
        if verb[:1] in (b"s", b"S"):
            tid = _thread_id(thread) if thread else 0
            return Resume(step=True, thread=max(tid, 0))
        if verb[:1] in (b"c", b"C"):
            return Resume(step=False)
        if verb[:1] in (b"t", b"r"):
            return Unknown(payload)
    return Malformed(payload, "no action")


def _thread_id(text: bytes) -> int:
    """A thread id as gdb sends it: hex, 0 for any, -1 for all."""
    if text == b"-1":
        return -1
    tid = hex_number(text)
    if tid >= 1 << 31:
        raise ValueError(f"thread id {text!r} out of range")
    return tid


def _parse_query(payload: bytes) -> Request:
    if payload.startswith(b"qSupported"):
        feats = payload.partition(b":")[2].decode("ascii", "replace")
        return Supported(tuple(f for f in feats.split(";") if f))
    if payload.startswith(b"qXfer:"):
        parts = payload.split(b":")
        if len(parts) < 5 or parts[2] != b"read":
            return Unknown(payload)
        off, _, length = parts[4].partition(b",")
        return Xfer(parts[1].decode(), parts[3].decode(), hex_number(off), hex_number(length))
    if payload.startswith(b"qRcmd,"):
        return Monitor(bytes.fromhex(payload[6:].decode("ascii")).decode("utf-8", "replace"))
    name = payload.split(b":")[0].split(b",")[0].decode("ascii", "replace")
    return SimpleQuery(name)


def parse(payload: bytes) -> Request:
    """The request a payload carries. Never raises: bad numbers become Malformed."""
    try:
        return _parse(payload)
    except (ValueError, UnicodeDecodeError, IndexError) as err:
        return Malformed(payload, str(err))


def _parse(payload: bytes) -> Request:
    if not payload:
        return Unknown(payload)
    head = payload[:1]
    if payload == b"?":
        return HaltReason()
    if payload == b"QStartNoAckMode":
        return StartNoAck()
    if head == b"q":
        return _parse_query(payload)
    if payload == b"g":
        return ReadRegisters()
    if head == b"G":
        return WriteRegisters()
    if head == b"p":
        return ReadRegister(hex_number(payload[1:]))
    if head == b"P":
        return WriteRegister(hex_number(payload[1:].split(b"=")[0]))
    if head == b"m":
        addr, _, length = payload[1:].partition(b",")
        return ReadMemory(hex_number(addr), hex_number(length))
    if head == b"M":
        spec, _, data = payload[1:].partition(b":")
        addr, _, _length = spec.partition(b",")
        return WriteMemory(hex_number(addr), bytes.fromhex(data.decode("ascii")))
    if head == b"X":
        spec, _, data = payload[1:].partition(b":")
        addr, _, _length = spec.partition(b",")
        return WriteMemory(hex_number(addr), unescape(data))
    if head in (b"Z", b"z"):
        fields = payload[1:].split(b";")[0].split(b",")
        return SetBreak(
            head == b"Z", hex_number(fields[0]), hex_number(fields[1]), hex_number(fields[2])
        )
    if head in (b"c", b"C"):
        return Resume(step=False)
    if head in (b"s", b"S"):
        return Resume(step=True)
    if payload == b"bc":
        return Resume(step=False, reverse=True)
    if payload == b"bs":
        return Resume(step=True, reverse=True)
    if payload == b"vCont?":
        return VContQuery()
    if payload.startswith(b"vCont;"):
        return _parse_vcont(payload)
    if payload.startswith(b"vFile:"):
        op, _, rest = payload[6:].partition(b":")
        return VFile(op.decode("ascii"), tuple(rest.split(b",")) if rest else ())
    if payload.startswith(b"vKill") or payload == b"k":
        return Kill()
    if head == b"D":
        return Detach()
    if head == b"H":
        return SetThread(payload[1:2].decode("ascii"), _thread_id(payload[2:]))
    if head == b"T":
        return ThreadAlive(_thread_id(payload[1:]))
    return Unknown(payload)
