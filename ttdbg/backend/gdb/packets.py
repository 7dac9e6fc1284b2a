"""RSP framing with no I/O: checksums, escaping, acks and the byte-by-byte packet reader."""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

MAX_PACKET = 0x4000  # what the stub advertises as PacketSize
INTERRUPT = 0x03
_NEEDS_ESCAPE = re.compile(rb"[$#}*]")
_DOLLAR, _HASH, _PLUS, _MINUS = b"$#+-"
_BODY_END = re.compile(rb"[#$]")
_WHOLE_PACKET = re.compile(rb"\$([^#$]*)#(..)", re.DOTALL)  # all of one packet, in one read


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def escape(data: bytes) -> bytes:
    """Binary data for X packets and qXfer/vFile replies: `$ # } *` become `}` + byte^0x20."""
    return _NEEDS_ESCAPE.sub(_escaped, data)


def _escaped(found: re.Match[bytes]) -> bytes:
    return bytes((0x7D, found[0][0] ^ 0x20))


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                break
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """`$payload#cs` ready to send (payload already escaped where the packet needs it)."""
    return b"$%s#%02x" % (payload, sum(payload) & 0xFF)


class Kind(enum.Enum):
    PACKET = "packet"  # a well-formed packet; acknowledge with + in ack mode
    BAD = "bad"  # checksum mismatch or oversized; ask again with - in ack mode
    INTERRUPT = "interrupt"  # 0x03 outside a packet
    ACK = "ack"
    NACK = "nack"


class Incoming(NamedTuple):
    """One thing the peer sent (a tuple: one is made for every packet)."""

    kind: Kind
    payload: bytes = b""


class PacketReader:
    """Feed it bytes as they arrive; it returns the complete things they finish."""

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        self._max = max_packet
        self._state = "idle"
        self._body = bytearray()
        self._cs = bytearray()
        self._oversized = False

    @property
    def in_packet(self) -> bool:
        """Part of a packet has arrived, not all of it."""
        return self._state != "idle"

    def whole(self, data: bytes) -> bytes | None:
        """The payload when `data` is exactly one whole, intact packet and none has begun
        (the usual read in no-ack mode), taken as `feed` would; None: `feed` it."""
        item = self._one_whole(data)
        return None if item is None or item is _BAD else item.payload

    def _one_whole(self, data: bytes) -> Incoming | None:
        """`data` as exactly one whole packet within the size limit, none having begun: the
        packet (BAD for a wrong checksum); None when `data` is anything else."""
        if self._state != "idle":
            return None
        found = _WHOLE_PACKET.fullmatch(data)
        if found is None or len(found[1]) > self._max:
            return None
        return _packet(found[1], found[2])

    def feed(self, data: bytes) -> list[Incoming]:
        only = self._one_whole(data)  # the usual read in no-ack mode
        if only is not None:
            return [only]
        out: list[Incoming] = []
        i, n = 0, len(data)
        while i < n:
            if self._state == "body":
                # The body up to its end (or the end of the data) in one slice.
                found = _BODY_END.search(data, i)
                end = n if found is None else found.start()
                room = self._max - len(self._body)
                if end - i > room:
                    self._oversized = True
                self._body += data[i : i + min(room, end - i)]
                if found is None:
                    break
                if data[end] == _HASH:
                    self._state, self._cs = "checksum", bytearray()
                else:
                    # A new packet started before this one ended: drop the broken one.
                    out.append(Incoming(Kind.BAD))
                    self._body, self._oversized = bytearray(), False
                i = end + 1
                continue
            b = data[i]
            if b == _DOLLAR and self._state == "idle":
                # The usual case: a whole packet arrived in this read; take it in one step.
                whole = _WHOLE_PACKET.match(data, i)
                if whole is not None and len(whole[1]) <= self._max:
                    out.append(_packet(whole[1], whole[2]))
                    i = whole.end()
                    continue
            i += 1
            if self._state == "idle":
                if b == _DOLLAR:
                    self._state, self._body, self._oversized = "body", bytearray(), False
                elif b == INTERRUPT:
                    out.append(Incoming(Kind.INTERRUPT))
                elif b == _PLUS:
                    out.append(Incoming(Kind.ACK))
                elif b == _MINUS:
                    out.append(Incoming(Kind.NACK))
                # anything else between packets is line noise: ignored
            else:
                self._cs.append(b)
                if len(self._cs) == 2:
                    self._state = "idle"
                    out.append(self._finish())
        return out

    def _finish(self) -> Incoming:
        if self._oversized:
            return Incoming(Kind.BAD)
        return _packet(bytes(self._body), bytes(self._cs))


# Every two-hex-digit checksum as it may be sent (either case), and its value.
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_CHECKSUMS = {bytes((a, b)): int(bytes((a, b)), 16) for a in _HEX_DIGITS for b in _HEX_DIGITS}
_BAD = Incoming(Kind.BAD)


def _packet(body: bytes, sent_checksum: bytes) -> Incoming:
    """The packet `body`, or BAD when the checksum the peer sent is not two hex digits
    matching it."""
    if _CHECKSUMS.get(sent_checksum) != checksum(body):
        return _BAD
    return Incoming(Kind.PACKET, body)
