"""Parsing RSP payloads into typed requests; anything unexpected becomes Unknown or Malformed."""

from __future__ import annotations

import re
from collections.abc import Callable
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


# gdb sends the same few packets around every step (breakpoints in and out, the stack
# read, the thread list): their requests, which are immutable, are parsed once. Short
# payloads only and a bounded count, whatever a client sends.
_PARSED: dict[bytes, Request] = {}
MAX_PARSED = 512
MAX_PARSED_PAYLOAD = 64


def parse(payload: bytes) -> Request:
    """The request a payload carries. Never raises: bad numbers become Malformed."""
    request = _PARSED.get(payload)
    if request is not None:
        return request
    try:
        request = _parse(payload)
    except (ValueError, UnicodeDecodeError, IndexError) as err:
        return Malformed(payload, str(err))
    if len(payload) <= MAX_PARSED_PAYLOAD:
        if len(_PARSED) >= MAX_PARSED:
            _PARSED.clear()
        _PARSED[payload] = request
    return request


def _parse(payload: bytes) -> Request:
    exact = _EXACT.get(payload)
    if exact is not None:
        return exact()
    by_head = _BY_HEAD.get(payload[0]) if payload else None
    return Unknown(payload) if by_head is None else by_head(payload)


def _memory_write(payload: bytes, decode: Callable[[bytes], bytes]) -> Request:
    spec, _, data = payload[1:].partition(b":")
    addr, _, _length = spec.partition(b",")
    return WriteMemory(hex_number(addr), decode(data))


def _break(payload: bytes) -> Request:
    fields = payload[1:].split(b";")[0].split(b",")
    return SetBreak(
        payload[0] == ord("Z"), hex_number(fields[0]), hex_number(fields[1]), hex_number(fields[2])
    )


def _read_memory(payload: bytes) -> Request:
    addr, _, length = payload[1:].partition(b",")
    return ReadMemory(hex_number(addr), hex_number(length))


def _parse_v(payload: bytes) -> Request:
    if payload.startswith(b"vCont;"):
        return _parse_vcont(payload)
    if payload.startswith(b"vFile:"):
        op, _, rest = payload[6:].partition(b":")
        return VFile(op.decode("ascii"), tuple(rest.split(b",")) if rest else ())
    if payload.startswith(b"vKill"):
        return Kill()
    return Unknown(payload)


# Whole payloads with a fixed meaning, then parsers by the payload's first byte.
_EXACT: dict[bytes, Callable[[], Request]] = {
    b"?": HaltReason,
    b"QStartNoAckMode": StartNoAck,
    b"g": ReadRegisters,
    b"bc": lambda: Resume(step=False, reverse=True),
    b"bs": lambda: Resume(step=True, reverse=True),
    b"vCont?": VContQuery,
    b"k": Kill,
}
_BY_HEAD: dict[int, Callable[[bytes], Request]] = {
    ord("q"): _parse_query,
    ord("G"): lambda p: WriteRegisters(),
    ord("p"): lambda p: ReadRegister(hex_number(p[1:])),
    ord("P"): lambda p: WriteRegister(hex_number(p[1:].split(b"=")[0])),
    ord("m"): _read_memory,
    ord("M"): lambda p: _memory_write(p, lambda data: bytes.fromhex(data.decode("ascii"))),
    ord("X"): lambda p: _memory_write(p, unescape),
    ord("Z"): _break,
    ord("z"): _break,
    ord("c"): lambda p: Resume(step=False),
    ord("C"): lambda p: Resume(step=False),
    ord("s"): lambda p: Resume(step=True),
    ord("S"): lambda p: Resume(step=True),
    ord("v"): _parse_v,
    ord("D"): lambda p: Detach(),
    ord("H"): lambda p: SetThread(p[1:2].decode("ascii"), _thread_id(p[2:])),
    ord("T"): lambda p: ThreadAlive(_thread_id(p[1:])),
}
