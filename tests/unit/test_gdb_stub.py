"""The stub without sockets: bytes in, bytes out, over a real timeline."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES
from ttdbg.backend.gdb.packets import unescape
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

REC = open_recording(str(SAMPLES / "walk.ttrec"))


@pytest.fixture
def stub() -> GdbStub:
    return GdbStub(Timeline(REC), "/ttdbg/walk", REC.program_image)


def ask(stub: GdbStub, payload: bytes) -> list[bytes]:
    return stub.handle(payload).payloads


def test_handshake_and_registers(stub: GdbStub) -> None:
    [features] = ask(stub, b"qSupported:multiprocess+;swbreak+;hwbreak+")
    assert b"ReverseStep+" in features
    assert b"QStartNoAckMode+" in features
    assert ask(stub, b"QStartNoAckMode") == [b"OK"]
    assert stub.no_ack
    assert ask(stub, b"vMustReplyEmpty") == [b""]
    [regs] = ask(stub, b"g")
    assert len(regs) == 560 * 2
    rip = int.from_bytes(bytes.fromhex(regs[16 * 16 : 17 * 16].decode()), "little")
    assert rip == REC.program.entry
    assert ask(stub, b"p10") == [regs[16 * 16 : 17 * 16]]
    assert ask(stub, b"p39") == [b"xx" * 8]  # orig_rax: unavailable
    assert ask(stub, b"pfff") == [b"E01"]


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
    assert ask(stub, b"bs") == [b"T05thread:1;replaylog:begin;"]
    assert ask(stub, b"vCont;s:1;c") == [b"T05thread:1;"]
    assert stub.timeline.position == 1
    assert ask(stub, b"bs") == [b"T05thread:1;"]
    assert ask(stub, b"vCont;c") == [b"T05thread:1;replaylog:end;"]
    assert ask(stub, b"c") == [b"T05thread:1;replaylog:end;"]
    assert ask(stub, b"bc") == [b"T05thread:1;replaylog:begin;"]


def test_breakpoints_and_watchpoints(stub: GdbStub) -> None:
    entry = REC.program.entry
    assert ask(stub, b"Z0,%x,1" % entry) == [b"OK"]
    assert ask(stub, b"vCont;c") == [b"T05thread:1;replaylog:end;"]
    assert ask(stub, b"bc") == [b"T05thread:1;swbreak:;"]
    assert stub.timeline.position == 0
    assert ask(stub, b"z0,%x,1" % entry) == [b"OK"]
    assert ask(stub, b"Z2,0,0") == [b""]  # a zero-length watchpoint is not supported


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
    assert ask(stub, b"c") == [b"T05thread:1;"]
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
    """The TUI looks at the previous instruction for a moment; gdb must not catch it there."""
    tl = stub.timeline
    tl.seek(5000)
    stop = threading.Event()

    def peeker() -> None:
        while not stop.is_set():
            tl.peek(tl.position - 1, lambda: time.sleep(0.0005))

    thread = threading.Thread(target=peeker)
    thread.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            [regs] = ask(stub, b"g")
            rip = int.from_bytes(bytes.fromhex(regs[16 * 16 : 17 * 16].decode()), "little")
            assert rip == tl.peek(5000, lambda: tl.pc)
            *text, _ok = ask(stub, b"qRcmd," + b"info replay".hex().encode())
            assert b"icount: 5000 /".hex().encode() in text[0]
    finally:
        stop.set()
        thread.join(timeout=10)
