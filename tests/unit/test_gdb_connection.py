"""The sans-I/O RSP connection: framing, prompt acks, no-ack mode, interrupts, bounds."""

from __future__ import annotations

import pytest

from ttdbg.backend.gdb.connection import MAX_QUEUED_REQUESTS, ProtocolError, RspConnection
from ttdbg.backend.gdb.packets import MAX_PACKET, frame


def test_a_packet_is_acked_as_soon_as_it_is_complete() -> None:
    rsp = RspConnection()
    rsp.receive_data(b"$vCon")
    assert rsp.in_packet
    assert rsp.data_to_send() == b""
    rsp.receive_data(b"t;c#a8"[:-2])
    rsp.receive_data(b"a8")
    # The ack goes out before the request is answered (a long `c` must not delay it).
    assert rsp.data_to_send() == b"+"
    assert not rsp.in_packet
    assert rsp.next_request() == b"vCont;c"
    assert rsp.next_request() is None  # one at a time: answer it first
    rsp.send_reply([b"T05thread:1;"])
    assert rsp.data_to_send() == frame(b"T05thread:1;")


def test_a_bad_checksum_is_nacked_and_a_nack_resends() -> None:
    rsp = RspConnection()
    rsp.receive_data(b"$g#00")
    assert rsp.data_to_send() == b"-"
    assert rsp.next_request() is None
    rsp.receive_data(frame(b"g"))
    assert rsp.next_request() == b"g"
    rsp.send_reply([b"0011"])
    sent = rsp.data_to_send()
    assert sent == b"+" + frame(b"0011")
    rsp.receive_data(b"-")  # gdb did not get it intact
    assert rsp.data_to_send() == frame(b"0011")


def test_no_ack_mode_starts_after_the_ok_is_sent() -> None:
    rsp = RspConnection()
    rsp.receive_data(frame(b"QStartNoAckMode"))
    assert rsp.next_request() == b"QStartNoAckMode"
    rsp.send_reply([b"OK"])
    assert rsp.data_to_send() == b"+" + frame(b"OK")
    assert rsp.no_ack
    rsp.receive_data(b"+" + frame(b"?") + b"$g#00")
    assert rsp.data_to_send() == b""  # no acks, no nacks
    assert rsp.next_request() == b"?"


def test_interrupts_are_seen_between_and_inside_packets_are_not() -> None:
    rsp = RspConnection()
    rsp.receive_data(b"\x03")
    assert rsp.take_interrupt()
    assert not rsp.take_interrupt()
    rsp.receive_data(frame(b"m0,\x03"))  # a 0x03 byte inside a packet is data
    assert not rsp.take_interrupt()


def test_oversized_packets_are_refused_without_growing() -> None:
    rsp = RspConnection()
    rsp.receive_data(b"$" + b"A" * (4 * MAX_PACKET) + b"#00")
    assert rsp.data_to_send() == b"-"
    assert rsp.next_request() is None
    assert len(rsp._reader._body) <= MAX_PACKET


def test_requests_queued_without_waiting_are_bounded() -> None:
    rsp = RspConnection()
    rsp.receive_data(frame(b"g") * MAX_QUEUED_REQUESTS)
    with pytest.raises(ProtocolError):
        rsp.receive_data(frame(b"g"))


def _no_ack() -> RspConnection:
    rsp = RspConnection()
    rsp.receive_data(frame(b"QStartNoAckMode"))
    assert rsp.next_request() == b"QStartNoAckMode"
    rsp.send_reply([b"OK"])
    rsp.data_to_send()
    return rsp


def test_a_read_of_one_whole_packet_is_taken_in_one_step_in_no_ack_mode() -> None:
    rsp = _no_ack()
    assert rsp.whole_request(frame(b"m1000,40")) == b"m1000,40"
    assert rsp.answering  # as after next_request: answer it first
    assert rsp.next_request() is None
    rsp.send_reply([b"00"])
    assert rsp.data_to_send() == frame(b"00")  # no ack in no-ack mode
    # In ack mode the packet must be acked: the one-step path takes nothing.
    acking = RspConnection()
    assert acking.whole_request(frame(b"g")) is None
    assert acking.data_to_send() == b""
    assert acking.next_request() is None


@pytest.mark.parametrize(
    "data",
    [
        b"$g#00",  # bad checksum
        frame(b"g") + frame(b"?"),  # two packets
        frame(b"g")[:-1],  # not all of it
        b"\x03",  # an interrupt
        frame(b"a" * (MAX_PACKET + 1)),  # oversized (its checksum right)
    ],
)
def test_anything_but_one_whole_packet_goes_the_usual_way(data: bytes) -> None:
    rsp = _no_ack()
    usual = _no_ack()
    assert rsp.whole_request(data) is None
    # Nothing was taken: fed afterwards, it gives what it gives without the one-step path.
    rsp.receive_data(data)
    usual.receive_data(data)
    assert rsp.next_request() == usual.next_request()
    assert rsp.take_interrupt() == usual.take_interrupt()
    assert rsp.in_packet == usual.in_packet


def test_no_one_step_read_while_a_request_is_queued_or_answered() -> None:
    rsp = _no_ack()
    rsp.receive_data(frame(b"g") + frame(b"?"))
    assert rsp.next_request() == b"g"
    assert rsp.whole_request(frame(b"s")) is None  # "g" is being answered, "?" waits
    rsp.send_reply([b"00"])
    assert rsp.whole_request(frame(b"s")) is None  # "?" still waits: it comes first
    assert rsp.next_request() == b"?"
