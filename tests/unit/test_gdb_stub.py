"""The stub without sockets: bytes in, bytes out, over a real timeline."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES
from tests.rsp_client import stop_registers, without_registers
from ttdbg.backend.engine import Engine
from ttdbg.backend.gdb.packets import unescape
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

REC = open_recording(str(SAMPLES / "walk.ttrec"))
MAIN_TID = int.from_bytes(REC.events[0].payload[:4], "little")  # the recorded pid
STOP = b"T05thread:%x;" % MAIN_TID


@pytest.fixture
def stub() -> GdbStub:
    return GdbStub(Timeline(REC), "/ttdbg/walk", REC.program_image)


def ask(stub: GdbStub, payload: bytes) -> list[bytes]:
    """The reply payloads, stop replies without the registers they carry."""
    replies = stub.handle(payload).payloads
    return [without_registers(r) if r[:1] == b"T" else r for r in replies]


def test_handshake_and_registers(stub: GdbStub) -> None:
    [features] = ask(stub, b"qSupported:multiprocess+;swbreak+;hwbreak+")
    assert b"ReverseStep+" in features
    assert b"QStartNoAckMode+" in features
    assert ask(stub, b"QStartNoAckMode") == [b"OK"]
    assert ask(stub, b"vMustReplyEmpty") == [b""]
    [regs] = ask(stub, b"g")
    assert len(regs) == 560 * 2
    rip = int.from_bytes(bytes.fromhex(regs[16 * 16 : 17 * 16].decode()), "little")
    assert rip == REC.program.entry
    assert ask(stub, b"p10") == [regs[16 * 16 : 17 * 16]]
    assert ask(stub, b"p39") == [b"xx" * 8]  # orig_rax: unavailable
    assert ask(stub, b"pfff") == [b"E01"]


def test_stop_replies_carry_the_frame_registers_gdb_would_fetch(stub: GdbStub) -> None:
    """pc, sp and frame pointer ride in each stop reply (as gdbserver's do), with the values
    the g packet gives, so a stepi costs gdb no register round trip."""
    stub.timeline.seek(5000)
    for request in (b"vCont;s:%x;c" % MAIN_TID, b"bs", b"bs"):
        [reply] = stub.handle(request).payloads
        expedited = stop_registers(reply)
        [regs] = ask(stub, b"g")
        assert sorted(expedited) == [6, 7, 16]  # rbp, rsp, rip
        for number, value in expedited.items():
            assert value.hex().encode() == regs[16 * number : 16 * number + 16], request
    assert int.from_bytes(expedited[16], "little") == stub.timeline.pc


def test_target_xml_is_served_in_pieces(stub: GdbStub) -> None:
    whole = b""
    offset = 0
    while True:
        [reply] = ask(stub, b"qXfer:features:read:target.xml:%x,200" % offset)
        whole += reply[1:]
        offset += 0x200
        if reply[:1] == b"l":
            break
        assert reply[:1] == b"m"
    assert whole.startswith(b"<?xml")
    assert b"<architecture>i386:x86-64</architecture>" in whole
    assert ask(stub, b"qXfer:features:read:other.xml:0,100") == [b"E00"]


def test_memory_and_refused_writes(stub: GdbStub) -> None:
    entry = REC.program.entry
    seg = next(s for s in REC.program.segments if s.vaddr <= entry < s.vaddr + len(s.data))
    [data] = ask(stub, b"m%x,4" % entry)
    assert bytes.fromhex(data.decode()) == seg.data[entry - seg.vaddr : entry - seg.vaddr + 4]
    assert ask(stub, b"m0,8") == [b"E01"]
    assert ask(stub, b"M%x,1:90" % entry) == [b"E01"]
    assert ask(stub, b"G" + b"00" * 560) == [b"E01"]
    assert ask(stub, b"P0=0000000000000000") == [b"E01"]
    assert ask(stub, b"X%x,0:" % entry) == [b"OK"]


def test_step_both_ways_and_the_ends(stub: GdbStub) -> None:
    assert ask(stub, b"bs") == [STOP + b"replaylog:begin;"]
    assert ask(stub, b"vCont;s:%x;c" % MAIN_TID) == [STOP]
    assert stub.timeline.position == 1
    assert ask(stub, b"bs") == [STOP]
    assert ask(stub, b"vCont;c") == [STOP + b"replaylog:end;"]
    assert ask(stub, b"c") == [STOP + b"replaylog:end;"]
    assert ask(stub, b"bc") == [STOP + b"replaylog:begin;"]


def test_breakpoints_and_watchpoints(stub: GdbStub) -> None:
    entry = REC.program.entry
    assert ask(stub, b"Z0,%x,1" % entry) == [b"OK"]
    assert ask(stub, b"vCont;c") == [STOP + b"replaylog:end;"]
    assert ask(stub, b"bc") == [STOP + b"swbreak:;"]
    assert stub.timeline.position == 0
    assert ask(stub, b"z0,%x,1" % entry) == [b"OK"]
    assert ask(stub, b"Z2,0,0") == [b"E01"]  # a zero-length watchpoint is refused


def test_breakpoints_gdb_takes_out_and_puts_back_around_a_step_never_leave(
    stub: GdbStub,
) -> None:
    """gdb removes and inserts every breakpoint around every step: the timeline (and the TUI
    watching it) sees no change for that; a removal holds from the next other request on,
    and a stop reply names a hardware breakpoint as gdb last inserted it."""
    tl = stub.timeline
    entry, other = REC.program.entry, REC.program.entry + 1
    ask(stub, b"Z0,%x,1" % entry)
    ask(stub, b"Z1,%x,1" % other)
    tl.take_changes()
    for _ in range(3):
        for packet in (b"z0,%x,1" % entry, b"z1,%x,1" % other):
            assert ask(stub, packet) == [b"OK"]
        for packet in (b"Z0,%x,1" % entry, b"Z1,%x,1" % other):
            assert ask(stub, packet) == [b"OK"]
        assert ask(stub, b"vCont;s:%x;c" % MAIN_TID) == [STOP]
    assert [c.what for c in tl.take_changes()] == ["position"] * 3
    assert tl.breakpoints == {entry, other}
    ask(stub, b"z1,%x,1" % other)
    ask(stub, b"Z0,%x,1" % other)  # the same address, now a software breakpoint
    assert other not in stub.hw_breakpoints
    assert ask(stub, b"bc") == [STOP + b"swbreak:;"]
    assert tl.position == 0
    ask(stub, b"z0,%x,1" % entry)
    ask(stub, b"z0,%x,1" % other)
    assert tl.breakpoints == {entry, other}  # still there until another request comes
    ask(stub, b"m%x,1" % entry)
    assert tl.breakpoints == frozenset()


POISON = [
    b"Z0,-1,1",  # int(..., 16) would read a sign
    b"Z0,ffffffffffffffff,1",  # the byte after it is beyond the address space
    b"Z0,10000000000000000,1",  # beyond 64 bits
    b"Z0,401000,7",  # not an instruction size on x86-64
    b"Z1, 401000,1",
    b"Z2,0,ffffffffffffffff",  # a watchpoint over everything
    b"Z2,fffffffffffffff8,10",  # wrapping past the top
    b"Z4,-10,8",
    b"Z3,1_000,8",
    b"m-1,4",
    b"m10000000000000000,4",
    b"qXfer:features:read:target.xml:-1,10",
    b"vFile:pread:-1,10,0",
    b"p-1",
]


@pytest.mark.parametrize("packet", POISON)
def test_poisoning_values_are_refused_and_leave_nothing_behind(packet: bytes) -> None:
    stub = GdbStub(Timeline(REC), "/ttdbg/walk", REC.program_image)
    [reply] = ask(stub, packet)
    assert reply.startswith((b"E", b"F-1")), reply
    assert not stub.timeline.breakpoints
    assert not stub.timeline.watchpoints
    assert ask(stub, b"c") == [STOP + b"replaylog:end;"]
    # With error-message+ the refusal says why.
    ask(stub, b"qSupported:error-message+;swbreak+")
    [reply] = ask(stub, packet)
    assert reply.startswith((b"E.", b"F-1")), reply


def test_the_top_of_the_address_space_is_still_usable(stub: GdbStub) -> None:
    assert ask(stub, b"Z0,fffffffffffffffe,1") == [b"OK"]
    assert ask(stub, b"Z2,fffffffffffffff0,10") == [b"OK"]
    assert ask(stub, b"m,fffffffffffffff0,100") == [b"E01"]
    assert ask(stub, b"c") == [STOP + b"replaylog:end;"]


def test_a_failing_request_is_an_error_reply_and_the_stub_carries_on(
    stub: GdbStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise OverflowError("int too big to convert")

    monkeypatch.setattr(stub.timeline.tracer, "arm", broken)
    ask(stub, b"qSupported:error-message+")
    [reply] = ask(stub, b"c")
    assert reply.startswith(b"E.")
    assert b"OverflowError" in reply
    monkeypatch.undo()
    assert ask(stub, b"c") == [STOP + b"replaylog:end;"]


def test_monitor_commands(stub: GdbStub) -> None:
    def monitor(cmd: str) -> tuple[str, bytes]:
        *out, status = ask(stub, b"qRcmd," + cmd.encode().hex().encode())
        return "".join(bytes.fromhex(o[1:].decode()).decode() for o in out), status

    text, status = monitor("help")
    assert status == b"OK"
    for name in ("info replay", "seek", "break", "delete-break", "snapshots", "savevm", "loadvm"):
        assert name in text
    assert monitor("seek 1000")[1] == b"OK"
    assert stub.timeline.position == 1000
    text, _ = monitor("info replay")
    assert "icount: 1000 /" in text
    assert "exited with status 0" in text
    assert monitor("savevm here")[1] == b"OK"
    assert monitor("seek 10")[1] == b"OK"
    assert monitor("loadvm here")[1] == b"OK"
    assert stub.timeline.position == 1000
    assert monitor("break 1500")[1] == b"OK"
    assert ask(stub, b"c") == [STOP]
    assert stub.timeline.position == 1500
    assert monitor("delete-break")[1] == b"OK"
    assert "recording snapshots" in monitor("snapshots")[0]
    assert "you are here" in monitor("events 2")[0]
    assert monitor("seek banana")[1] == b"E01"
    assert monitor("frobnicate")[1] == b"E01"


def test_the_program_is_served_over_vfile(stub: GdbStub) -> None:
    assert ask(stub, b"qXfer:exec-file:read::0,1000") == [b"l/ttdbg/walk"]
    [fd] = ask(stub, b"vFile:open:" + b"/ttdbg/walk".hex().encode() + b",0,0")
    assert fd.startswith(b"F")
    got = b""
    while True:
        [reply] = ask(stub, b"vFile:pread:%s,1000,%x" % (fd[1:], len(got)))
        count, _, data = reply[1:].partition(b";")
        if int(count, 16) == 0:
            break
        got += unescape(data)
    assert got == REC.program_image
    assert ask(stub, b"vFile:open:" + b"/etc/passwd".hex().encode() + b",0,0") == [b"F-1,2"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=100))
def test_any_packet_gets_an_answer(payload: bytes) -> None:
    stub = GdbStub(Timeline(REC), "/ttdbg/walk", REC.program_image)
    reply = stub.handle(payload)
    assert isinstance(reply.payloads, list)


def test_gdb_never_sees_another_front_end_peeking(stub: GdbStub) -> None:
    """The TUI looks at the previous instruction for a moment; gdb must not catch it there:
    both go through the one engine thread that owns the timeline."""
    tl = stub.timeline
    tl.seek(5000)
    engine = Engine(tl)
    stop = threading.Event()

    def peeker() -> None:
        while not stop.is_set():
            engine.call(lambda c: tl.peek(tl.position - 1, lambda: time.sleep(0.0005)), "tui")

    thread = threading.Thread(target=peeker)
    thread.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            [regs] = engine.call(lambda c: stub.handle(b"g", c).payloads, "gdb")
            rip = int.from_bytes(bytes.fromhex(regs[16 * 16 : 17 * 16].decode()), "little")
            assert rip == engine.call(lambda c: tl.peek(5000, lambda: tl.pc))
            *text, _ok = engine.call(
                lambda c: stub.handle(b"qRcmd," + b"info replay".hex().encode(), c).payloads
            )
            assert b"icount: 5000 /".hex().encode() in text[0]
    finally:
        stop.set()
        thread.join(timeout=10)
        engine.stop()
