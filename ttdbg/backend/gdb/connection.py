"""One gdb remote-protocol connection without I/O: bytes in, requests out; replies in, bytes
out (in the style of h11).

The object owns everything about the wire: framing and checksums, acks (sent as soon as a
packet is complete, before it is answered), retransmission on `-`, no-ack mode (entered
once the reply to QStartNoAckMode is sent), interrupts (0x03), the packet size, and a bound
on requests queued while an earlier one is still being answered.
"""

from __future__ import annotations

from collections import deque

from .packets import MAX_PACKET, Kind, PacketReader, frame

# A gdb sends one request and waits for its answer (only 0x03 comes in between), so a few
# queued requests are already more than a well-behaved client ever has outstanding.
MAX_QUEUED_REQUESTS = 8


class ProtocolError(Exception):
    """The peer broke the protocol beyond repair (too much queued input)."""


class RspConnection:
    """Feed it what the socket reads; send what `data_to_send` returns."""

    def __init__(self, max_packet: int = MAX_PACKET, max_queued: int = MAX_QUEUED_REQUESTS) -> None:
        self._reader = PacketReader(max_packet)
        self._max_queued = max_queued
        self._requests: deque[bytes] = deque()
        self._out = bytearray()
        self._last_frame = b""
        self._answering: bytes | None = None
        self._interrupted = False
        self.no_ack = False

    # -- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the peer. ProtocolError when too many requests are waiting."""
        for item in self._reader.feed(data):
            if item.kind == Kind.PACKET:
                if not self.no_ack:
                    self._out += b"+"
                if len(self._requests) >= self._max_queued:
                    raise ProtocolError(
                        f"more than {self._max_queued} requests sent without waiting for answers"
                    )
                self._requests.append(item.payload)
            elif item.kind == Kind.BAD:
                if not self.no_ack:
                    self._out += b"-"
            elif item.kind == Kind.INTERRUPT:
                self._interrupted = True
            elif item.kind == Kind.NACK and not self.no_ack and self._last_frame:
                self._out += self._last_frame  # gdb did not get our last packet intact

    def whole_request(self, data: bytes) -> bytes | None:
        """`receive_data` then `next_request` in one step for gdb's usual read in no-ack
        mode: the payload when `data` is exactly one whole, intact packet and nothing else
        is queued, begun or being answered (answer it with `send_reply`); None, having
        taken nothing: give `data` to `receive_data`."""
        if not self.no_ack or self._answering is not None or self._requests:
            return None
        payload = self._reader.whole(data)
        self._answering = payload
        return payload

    def next_request(self) -> bytes | None:
        """The payload of the next request to answer, or None. Answer it with `send_reply`
        before asking for the next one."""
        if self._answering is not None or not self._requests:
            return None
        self._answering = self._requests.popleft()
        return self._answering

    def take_interrupt(self) -> bool:
        """Whether a 0x03 arrived since the last call."""
        seen, self._interrupted = self._interrupted, False
        return seen

    @property
    def in_packet(self) -> bool:
        """A packet has started arriving and is not complete yet."""
        return self._reader.in_packet

    @property
    def answering(self) -> bool:
        return self._answering is not None

    # -- output -------------------------------------------------------------------------------

    def send_reply(self, payloads: list[bytes]) -> None:
        """Frame the answer to the request `next_request` returned."""
        request, self._answering = self._answering, None
        for payload in payloads:
            self._last_frame = frame(payload)
            self._out += self._last_frame
        if request == b"QStartNoAckMode" and payloads == [b"OK"]:
            self.no_ack = True  # from the next packet on, in both directions

    def data_to_send(self) -> bytes:
        """Everything due to the peer since the last call."""
        out, self._out = bytes(self._out), bytearray()
        return out
