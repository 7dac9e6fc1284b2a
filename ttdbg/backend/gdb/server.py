"""The sockets of the gdb stub: one attached client at a time, interrupts, reconnects."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable

from ..cancel import CancelToken
from .packets import Incoming, Kind, PacketReader, frame
from .stub import GdbStub

REFUSAL = b"E.ttdbg: another debugger is already attached to this recording"


class GdbServer:
    """Listens on host:port and serves gdb connections with stubs from `make_stub`."""

    def __init__(
        self,
        make_stub: Callable[[], GdbStub],
        host: str = "127.0.0.1",
        port: int = 0,
        on_attach: Callable[[bool], None] | None = None,
    ) -> None:
        self.make_stub = make_stub
        self.on_attach = on_attach or (lambda attached: None)
        self.sock = socket.create_server((host, port))
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self._busy = threading.Lock()
        self._stopping = threading.Event()

    def serve_forever(self) -> None:
        """Accept clients until `shutdown`; each gets its own thread."""
        self.sock.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.settimeout(None)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="gdb-server")
        thread.start()
        return thread

    def shutdown(self) -> None:
        self._stopping.set()
        self.sock.close()

    def _client(self, conn: socket.socket) -> None:
        with conn:
            if not self._busy.acquire(blocking=False):
                self._refuse(conn)
                return
            try:
                self.on_attach(True)
                Connection(conn, self.make_stub()).run()
            finally:
                self.on_attach(False)
                self._busy.release()

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


class SocketCancel(CancelToken):
    """Cancelled by a Ctrl-C (0x03) from gdb, or by gdb going away, while a command runs.

    Long operations check `cancelled` between short slices of work; checking polls the
    socket, so no second thread has to read it. Bytes that are not an interrupt are kept
    for the connection to handle next.
    """

    def __init__(self, conn: socket.socket, reader: PacketReader) -> None:
        super().__init__()
        self.conn = conn
        self.reader = reader
        self.pending: list[Incoming] = []
        self.closed = False

    @property
    def cancelled(self) -> bool:
        if super().cancelled:
            return True
        while not self.closed and select.select([self.conn], [], [], 0)[0]:
            self._take(self.conn.recv(65536))
        return super().cancelled

    def _take(self, data: bytes) -> None:
        if not data:
            self.closed = True
            self.cancel()
            return
        for item in self.reader.feed(data):
            if item.kind == Kind.INTERRUPT:
                self.cancel()
            else:
                self.pending.append(item)


class Connection:
    """One gdb session: read packets, answer them, watch for interrupts while running."""

    def __init__(self, conn: socket.socket, stub: GdbStub) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        self.stub = stub
        self.token = SocketCancel(conn, PacketReader())

    def _next(self) -> Incoming | None:
        """The next thing gdb sent, waiting for it; None once gdb has gone."""
        token = self.token
        while not token.pending:
            if token.closed:
                return None
            token._take(self.conn.recv(65536))
        return token.pending.pop(0)

    def run(self) -> None:
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                if item.kind == Kind.BAD:
                    if not self.stub.no_ack:
                        self.conn.sendall(b"-")
                    continue
                if item.kind != Kind.PACKET:
                    continue
                ack = b"" if self.stub.no_ack else b"+"
                self.token.reset()
                reply = self.stub.handle(item.payload, self.token)
                self.conn.sendall(ack + b"".join(frame(p) for p in reply.payloads))
                if reply.close:
                    return
        except OSError:
            return
