"""The sockets of the gdb stub: one attached client at a time, bytes moved between the socket,
an `RspConnection` and the engine thread that answers requests."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from ..cancel import CancelToken
from ..engine import Engine
from .commands import parse
from .connection import ProtocolError, RspConnection
from .packets import Kind, PacketReader, frame
from .stub import GdbStub, Reply

REFUSAL = b"E.ttdbg: another debugger is already attached to this recording"
# A client with replies waiting that reads none of them for this long is dropped (it would
# hold the only debugger slot forever); so is one that starts a packet and never ends it.
IDLE_TIMEOUT = 60.0
PACKET_TIMEOUT = 30.0
# How long gdb may stay quiet after removing breakpoints before the removals reach the
# timeline (gdb takes them out and puts them back around every step within this).
REMOVAL_GRACE = 0.05
# SO_RCVTIMEO's struct timeval: the grace, and 0 (no limit).
_GRACE = struct.pack("@ll", 0, int(REMOVAL_GRACE * 1_000_000))
_FOREVER = struct.pack("@ll", 0, 0)
MAX_PENDING_OUTPUT = 1 << 16  # bytes of answers the client has not read yet
MAX_REFUSING = 8  # newcomers being told "already attached" at the same time
# accept() failing for lack of descriptors or memory: wait, then try again, up to this long.
ACCEPT_BACKOFF = (0.05, 2.0)
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

log = logging.getLogger(__name__)
packet_log = logging.getLogger("ttdbg.gdb.packets")


def beyond_loopback(host: str) -> bool:
    """Whether listening on `host` accepts connections from other machines."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name: whatever it resolves to, assume the network


class GdbServer:
    """Listens on host:port and serves gdb connections with stubs from `make_stub`."""

    def __init__(
        self,
        make_stub: Callable[[], GdbStub],
        host: str = "127.0.0.1",
        port: int = 0,
        on_attach: Callable[[bool], object] | None = None,
        engine: Engine | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        packet_timeout: float = PACKET_TIMEOUT,
    ) -> None:
        self.make_stub = make_stub
        self.on_attach = on_attach or (lambda attached: None)
        self.sock = socket.create_server((host, port))
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.idle_timeout = idle_timeout
        self.packet_timeout = packet_timeout
        self._engine = engine
        self._own_engine = engine is None
        self._busy = threading.Lock()
        self._refusing = threading.BoundedSemaphore(MAX_REFUSING)
        self._stopping = threading.Event()
        self._attached: set[socket.socket] = set()  # woken from their blocking reads on shutdown
        self._attached_lock = threading.Lock()

    def serve_forever(self) -> None:
        """Accept clients until `shutdown`; each gets its own thread."""
        self.sock.settimeout(0.2)
        backoff = ACCEPT_BACKOFF[0]
        while not self._stopping.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError as err:
                if self._stopping.is_set():
                    break
                if err.errno not in _RESOURCE_ERRORS:
                    raise
                # Out of descriptors: the clients we serve still work; try again soon.
                log.warning("gdb server: cannot accept a connection (%s); retrying", err.strerror)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, ACCEPT_BACKOFF[1])
                continue
            backoff = ACCEPT_BACKOFF[0]
            log.debug("gdb client connected from %s", addr)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="gdb-server")
        thread.start()
        return thread

    def shutdown(self) -> None:
        self._stopping.set()
        self.sock.close()
        with self._attached_lock:
            attached = list(self._attached)
        for conn in attached:
            with contextlib.suppress(OSError):  # it may have gone meanwhile
                conn.shutdown(socket.SHUT_RDWR)
        if self._own_engine and self._engine is not None:
            self._engine.stop()

    def _engine_for(self, stub: GdbStub) -> Engine:
        if self._engine is None:
            self._engine = Engine(stub.timeline, name="gdb-engine")
        return self._engine

    def _client(self, conn: socket.socket) -> None:
        with conn:
            if not self._busy.acquire(blocking=False):
                if self._refusing.acquire(blocking=False):
                    try:
                        self._refuse(conn)
                    finally:
                        self._refusing.release()
                return
            released = threading.Event()
            attached = False

            def release() -> None:
                # On a clean detach the slot is free before gdb reads the OK, so it can
                # reconnect at once.
                if not released.is_set():
                    released.set()
                    if attached:
                        self.on_attach(False)
                    self._busy.release()

            with self._attached_lock:
                self._attached.add(conn)
            try:
                # (A shutdown that came before the line above did not see this client.)
                if not self._stopping.is_set():
                    attached = True
                    self.on_attach(True)
                    stub = self.make_stub()
                    ClientSession(conn, stub, self._engine_for(stub), self, release).run()
            except OSError as err:
                log.debug("gdb client connection ended: %s", err)
            finally:
                with self._attached_lock:
                    self._attached.discard(conn)
                release()

    def _refuse(self, conn: socket.socket) -> None:
        """Answer the newcomer's first packet with an error gdb prints, then hang up."""
        reader = PacketReader()
        conn.settimeout(5)
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                if any(i.kind == Kind.PACKET for i in reader.feed(data)):
                    conn.sendall(b"+" + frame(REFUSAL))
                    return
        except OSError:
            return


class ClientSession:
    """One attached gdb: moves bytes between its socket, the connection object and the
    engine. The socket is read all the time, also while a request runs on the engine, so
    acks go out at once and a 0x03 interrupts a long continue."""

    def __init__(
        self,
        sock: socket.socket,
        stub: GdbStub,
        engine: Engine,
        server: GdbServer,
        release: Callable[[], None],
    ) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Blocking: a quiet session waits in recv; reads and writes that must not wait say
        # so with MSG_DONTWAIT.
        sock.setblocking(True)
        self.sock = sock
        self.stub = stub
        self.engine = engine
        self.server = server
        self.release = release
        self.rsp = RspConnection()
        self.pending = b""
        self.job: Future[Reply] | None = None
        self.token = CancelToken()
        self.closing = False
        self.last_sent = time.monotonic()  # when the client last took bytes from us
        self.log_packets = packet_log.isEnabledFor(logging.DEBUG)  # (checked once a session)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.watching = selectors.EVENT_READ  # what the selector waits for on the socket
        self.packet_since: float | None = None  # when the unfinished packet began
        self.grace_on = False  # blocking reads give up after REMOVAL_GRACE (see _grace)

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self.server._stopping.is_set() and self._turn(sel):
                pass
        except ProtocolError as err:
            log.warning("gdb client dropped: %s", err)
        finally:
            self.token.cancel()  # a request still running for a client that left
            self._submit_removals()
            sel.close()
            self._wake_r.close()
            self._wake_w.close()

    def _turn(self, sel: selectors.BaseSelector) -> bool:
        """Answer what can be answered, then wait for the client (or, while a request runs
        or replies wait to go out, for the client and the engine). False: the session is
        over."""
        while self._start_next():
            pass
        self._flush()  # acks, or what the client had not taken yet
        if self.closing and not self.pending and self.job is None:
            return False
        if self.job is None and not self.pending and not self.rsp.in_packet:
            return self._await_request()
        overdue = self._overdue()
        if overdue:
            log.warning("gdb client %s; dropping it", overdue)
            return False
        if not self._wait(sel):
            return False
        self._finish_job()
        return True

    def _await_request(self) -> bool:
        """Quiet: nothing runs and nothing waits for the client, which owes the next
        request; wait for it in recv itself (one system call a packet, no poll; the
        server's shutdown ends the wait). False once the client has gone.

        gdb's usual read, one whole request in no-ack mode, is answered here at once, and
        the next awaited, for as long as each answer is short and goes out whole: the turn
        around this would find the same at several times the cost (7 packets a stepi)."""
        rsp, stub, sock = self.rsp, self.stub, self.sock
        stopping = self.server._stopping
        quiet = False  # the client went quiet since the last request
        while True:
            if stub.removals_pending and not quiet:
                # gdb removed breakpoints: if it goes quiet now (at its prompt), the
                # timeline, which the TUI shares, must not keep them meanwhile. The read
                # itself gives up after the grace (no poll before every read). The grace
                # stays set once they are gone (one setsockopt less per step's z/Z churn):
                # a later quiet spell then ends one read early, which finds nothing to do.
                self._grace(True)
            self.packet_since = None
            try:
                data = sock.recv(65536)
            except BlockingIOError:  # quiet for REMOVAL_GRACE
                quiet = True
                self._grace(False)
                if stub.removals_pending:
                    self._submit_removals()
                continue
            quiet = False
            if not data:
                return False
            payload = rsp.whole_request(data)
            if payload is None:
                self._take(data)
                return True
            if not self._answer(payload) or self.pending or self.closing or stopping.is_set():
                return True

    def _overdue(self) -> str:
        """Why to drop a client that holds things up: it stopped taking replies, or left a
        packet unfinished, for too long ("" while neither)."""
        if not self.pending and not self.rsp.in_packet:
            self.packet_since = None
            return ""
        now = time.monotonic()  # (a system call: only when something waits on the client)
        self.packet_since = (self.packet_since or now) if self.rsp.in_packet else None
        if self.pending and now - self.last_sent > self.server.idle_timeout:
            return "stopped reading replies"
        if self.packet_since is not None and now - self.packet_since > self.server.packet_timeout:
            return "left a packet unfinished"
        return ""

    def _wait(self, sel: selectors.BaseSelector) -> bool:
        """Wait (briefly) for the client's bytes, room for ours, or the engine's wake-up,
        and take what came in. False once the client has gone."""
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.pending else 0)
        if want != self.watching:
            sel.modify(self.sock, want)
            self.watching = want
        for key, events in sel.select(timeout=0.5):
            if key.fileobj is self._wake_r:
                self._wake_r.recv(4096)
            elif events & selectors.EVENT_READ and not self._read():
                return False
        return True

    def _submit_removals(self) -> None:
        stub = self.stub
        self.engine.submit(lambda _cancel: stub.remove_breakpoints(), "gdb")

    def _grace(self, on: bool) -> None:
        """Make a blocking read of the socket give up (BlockingIOError) once the client has
        been quiet for REMOVAL_GRACE, or wait for as long as it takes again."""
        if on != self.grace_on:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _GRACE if on else _FOREVER)
            self.grace_on = on

    def _read(self) -> bool:
        """Take what the socket has, without waiting for more; False once the client has
        gone."""
        try:
            data = self.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        if not data:
            return False
        self._take(data)
        return True

    def _take(self, data: bytes) -> None:
        """Give what the client sent to the connection; an interrupt cancels the request
        running."""
        self.rsp.receive_data(data)
        if self.rsp.take_interrupt() and self.job is not None:
            packet_log.debug("<- interrupt")
            self.token.cancel()

    def _start_next(self) -> bool:
        """Start answering the next request; True when it was answered already (a short
        request, run on this thread while the engine was idle), so the next may follow."""
        # One request at a time, and none while the client has not taken the last answer.
        if self.job is not None or self.closing or len(self.pending) > MAX_PENDING_OUTPUT:
            return False
        payload = self.rsp.next_request()
        if payload is None:
            return False
        return self._answer(payload)

    def _answer(self, payload: bytes) -> bool:
        """Answer the request `payload` (the connection's current one); True when it was
        answered and its reply flushed (a short request, run on this thread while the
        engine was idle), False when it went to the engine."""
        if self.log_packets:
            packet_log.debug("<- %r", payload[:200])
        self.rsp.take_interrupt()  # one from before this request is stale
        token = self.token
        if token.cancelled:  # (a token is made only after an interrupt used the last one)
            self.token = token = CancelToken()
        stub = self.stub
        request = parse(payload)
        answer: Callable[[CancelToken], Reply] = partial(stub.answer, request)
        if not stub.runs_long(request):
            # A step or a query: nothing to interrupt, so no need to keep reading the socket
            # meanwhile; answering here saves two thread hand-offs (the ack goes out first).
            if not self.rsp.no_ack:
                self._flush()
            try:
                ran = self.engine.run_now(answer, "gdb", token)
            except Exception as err:  # the stub answers everything; this is a bug
                ran = (Reply([self.stub.error(f"internal error: {err}")]),)
            if ran is not None:
                self._send_reply(ran[0])
                self._flush()
                return True
        self.job = self.engine.submit(answer, "gdb", token)
        self.job.add_done_callback(lambda _f: self._wake())
        return False

    def _wake(self) -> None:
        # OSError: the session is over, or a wake-up is already pending.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"!")

    def _finish_job(self) -> None:
        job = self.job
        if job is None or not job.done():
            return
        self.job = None
        try:
            reply = job.result()
        except Exception as err:  # the stub answers everything; the engine may have stopped
            reply = Reply([self.stub.error(f"internal error: {err}")])
        self._send_reply(reply)

    def _send_reply(self, reply: Reply) -> None:
        if self.log_packets:
            for payload in reply.payloads:
                packet_log.debug("-> %r", payload[:200])
        self.rsp.send_reply(reply.payloads)
        if reply.close:
            self.closing = True
            self.release()

    def _flush(self) -> None:
        fresh = self.rsp.data_to_send()
        if not fresh and not self.pending:
            return
        waiting = bool(self.pending)
        self.pending += fresh
        try:
            sent = self.sock.send(self.pending, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        self.pending = self.pending[sent:]
        if self.pending and (sent or not waiting):
            # Replies wait for the client: the idle timeout counts from now.
            self.last_sent = time.monotonic()
