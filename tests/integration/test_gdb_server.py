"""The gdb server over real sockets: prompt acks, hostile and broken clients, out of
descriptors, reconnects, listening beyond loopback."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import SAMPLES, poll, stop_packet
from tests.rsp_client import RawClient, attach, without_registers
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.gdb.commands import Request
from ttdbg.backend.gdb.packets import MAX_PACKET, frame
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub, Reply
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.timeline import Timeline

WALK = open_recording(str(SAMPLES / "walk.ttrec"))
WALK_STOP = stop_packet(SAMPLES / "walk.ttrec")
COMPUTE = SAMPLES / "compute.ttrec"


def serve(rec: Recording, **kw: float) -> GdbServer:
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/p", rec.program_image), **kw)  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture
def server() -> Iterator[GdbServer]:
    srv = serve(WALK, idle_timeout=1.0, packet_timeout=1.0)
    yield srv
    srv.shutdown()


@pytest.mark.parametrize("no_ack", [False, True])
def test_a_removal_reaches_the_timeline_when_gdb_goes_quiet(no_ack: bool) -> None:
    """gdb's removals are held back while it keeps asking (it takes every breakpoint out and
    puts it back around each step), but not while it sits at its prompt: the TUI shares the
    timeline and must not stop at a breakpoint gdb deleted. Again after a quiet spell, and
    also in no-ack mode, where gdb's requests are answered in the read loop."""
    timeline = Timeline(WALK)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/p", WALK.program_image))
    server.start()
    entry = WALK.program.entry
    try:
        with attach(server.address[1], timeout=30) as client:
            if no_ack:
                assert client.ask(b"QStartNoAckMode") == b"OK"
            for _ in range(2):
                assert client.ask(b"Z0,%x,1" % entry) == b"OK"
                assert entry in timeline.breakpoints
                assert client.ask(b"z0,%x,1" % entry) == b"OK"
                poll(lambda: entry not in timeline.breakpoints, 10, "the removal")
    finally:
        server.shutdown()


def test_the_ack_goes_out_before_a_long_continue_ends() -> None:
    rec = open_recording(str(COMPUTE))
    srv = serve(rec)
    try:
        with attach(srv.address[1]) as client:
            client.send(frame(b"vCont;c"))
            # The server acks while the continue runs; only the interrupt ends it.
            assert client.sock.recv(1) == b"+"
            client.send(b"\x03")
            assert without_registers(client.reply()) == stop_packet(COMPUTE, 2)
            assert client.ask(b"qRcmd," + b"info replay".hex().encode()) == b"OK"
    finally:
        srv.shutdown()


def test_steps_and_queries_are_answered_without_a_thread_hand_off() -> None:
    """Requests that cannot run long are answered on the connection's own thread (gdb's
    stepi costs several of them); a continue runs on the engine thread, which the session
    keeps reading the socket beside, so gdb's interrupt reaches it."""
    answered: list[tuple[str, str]] = []
    stub = GdbStub(Timeline(WALK), "/ttdbg/p", WALK.program_image)
    answer = stub.answer

    def recording_answer(request: Request, cancel: CancelToken | None = None) -> Reply:
        answered.append((type(request).__name__, threading.current_thread().name))
        return answer(request, cancel)

    stub.answer = recording_answer  # type: ignore[method-assign]
    srv = GdbServer(lambda: stub)
    srv.start()
    try:
        with attach(srv.address[1]) as client:
            assert without_registers(client.ask(b"vCont;s")).startswith(b"T05thread:")
            assert client.ask(b"m%x,4" % WALK.program.entry) != b"E01"
            assert without_registers(client.ask(b"c")).endswith(b"replaylog:end;")
    finally:
        srv.shutdown()
    session = answered[-3][1]
    assert answered[-3:] == [
        ("Resume", session), ("ReadMemory", session), ("Resume", "gdb-engine"),
    ]  # fmt: skip
    assert session.endswith("(_client)")


def test_huge_and_truncated_packets_cost_nothing_and_the_session_goes_on(
    server: GdbServer,
) -> None:
    with attach(server.address[1]) as client:
        client.send(b"$" + b"A" * (64 * MAX_PACKET) + b"#00")
        assert client.sock.recv(1) == b"-"
        client.send(b"$m4010")  # the rest never comes: the client is dropped
        poll(lambda: client.sock.recv(100) == b"", 30, "the server to drop a half packet")
    with attach(server.address[1]) as client:
        assert client.ask(b"?") == WALK_STOP


def test_a_client_that_stops_reading_loses_the_slot(server: GdbServer) -> None:
    port = server.address[1]
    greedy = socket.socket()
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    greedy.connect(("127.0.0.1", port))
    # Requests with big answers, never read: once the socket buffers are full the server
    # stops answering, and drops the client when it keeps asking or after the idle timeout.
    entry = WALK.program.entry
    greedy.settimeout(30)
    sent = 0
    with contextlib.suppress(OSError):
        for sent in range(1, 20_000):  # noqa: B007 - the count is reported below
            greedy.sendall(frame(b"m%x,%x" % (entry, MAX_PACKET // 2)))
    assert sent < 19_999, "the server never dropped a client that reads nothing"
    with attach(port, timeout=60) as client:
        assert client.ask(b"?") == WALK_STOP
    greedy.close()


def test_a_slowloris_client_is_dropped(server: GdbServer) -> None:
    port = server.address[1]
    with RawClient(port) as slow:
        slow.send(b"$q")
        slow.send(b"S")  # and then nothing more, for ever
        with attach(port, timeout=60) as client:
            assert client.ask(b"?") == WALK_STOP


def test_breakpoints_a_vanished_client_took_out_are_gone(server: GdbServer) -> None:
    """A breakpoint removal waits for gdb's next request (gdb puts it back right away
    around a step); a client that vanishes after it sends none, and the removal holds."""
    entry = WALK.program.entry
    timeline = server.make_stub().timeline
    with attach(server.address[1]) as client:
        assert client.ask(b"Z0,%x,1" % entry) == b"OK"
        assert client.ask(b"Z0,%x,1" % (entry + 1)) == b"OK"
        assert client.ask(b"z0,%x,1" % entry) == b"OK"
    poll(lambda: timeline.breakpoints == {entry + 1}, 10, "the removal to hold")


def test_detach_then_reconnect_at_once_always_works(server: GdbServer) -> None:
    port = server.address[1]
    for _ in range(30):
        client = RawClient(port)
        assert client.ask(b"?") == WALK_STOP
        assert client.ask(b"D") == b"OK"
        client.close()
    with RawClient(port) as client:
        assert client.ask(b"?") == WALK_STOP


def test_serve_survives_running_out_of_descriptors(tmp_path: object) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "serve", str(SAMPLES / "walk.ttrec"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1].rstrip(")\n"))
        soft, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
        with attach(port, timeout=60) as first:
            # Once a client is served the server's descriptors are all open: with the limit
            # at exactly that count, the next accept() has none left.
            assert first.ask(b"?") == WALK_STOP
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
            resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (fds, hard))
            holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
            poll(lambda: "cannot accept" in _stderr_so_far(proc), 30, "accept to fail")
            assert first.ask(b"?") == WALK_STOP  # the client being served still works
            for s in holders:
                s.close()
            resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (soft, hard))
            assert first.ask(b"D") == b"OK"
        with attach(port, timeout=60) as client:
            assert client.ask(b"?") == WALK_STOP
        assert proc.poll() is None
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    err = "".join(_seen) + (err or "")
    assert "cannot accept a connection" in err, err
    assert "Traceback" not in err, err


def _stderr_so_far(proc: subprocess.Popen[str]) -> str:
    """What the process wrote to stderr so far (non-blocking)."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        _seen.append(os.read(fd, 65536).decode(errors="replace"))
    return "".join(_seen)


_seen: list[str] = []


def test_listening_beyond_loopback_warns() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "serve", str(SAMPLES / "walk.ttrec"),
         "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "listening on 0.0.0.0" in proc.stdout.readline()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "warning: listening on 0.0.0.0" in err, err


def test_shutdown_ends_a_session_waiting_for_its_next_request() -> None:
    """A quiet session waits for gdb's next request in a blocking read; stopping the
    server must still end it (the client sees the connection close, the slot is free)."""
    srv = serve(WALK)
    client = RawClient(srv.address[1])
    try:
        assert client.ask(b"QStartNoAckMode") == b"OK"
        assert client.ask(b"?") == WALK_STOP  # no-ack mode: answered without a '+'
        srv.shutdown()
        client.sock.settimeout(30)
        assert client.sock.recv(100) == b""
        poll(lambda: srv._busy.acquire(blocking=False), 30, "the session to give its slot back")
    finally:
        client.close()
