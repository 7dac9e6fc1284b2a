"""The sockets of the gdb stub: one attached client at a time, interrupts, reconnects."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Callable

from ..cancel import CancelToken
from .packets import Incoming, Kind, PacketReader, frame
from .stub import GdbStub

REFUSAL = b"E.ttdbg: another debugger is already attached to this recording"
_CLOSED = Incoming(Kind.NACK, b"<closed>")


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
        self.clients_served = 0

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
                self.clients_served += 1
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


class Connection:
    """One gdb session: a reader thread turns bytes into packets; this thread answers them."""

    def __init__(self, conn: socket.socket, stub: GdbStub) -> None:
        self.conn = conn
        self.stub = stub
        self.cancel = CancelToken()
        self.inbox: queue.Queue[Incoming] = queue.Queue()

    def _read(self) -> None:
        reader = PacketReader()
        try:
            while True:
                data = self.conn.recv(65536)
                if not data:
                    break
                for item in reader.feed(data):
                    if item.kind == Kind.INTERRUPT:
                        self.cancel.cancel()
                    self.inbox.put(item)
        except OSError:
            pass
        self.cancel.cancel()  # a client that vanished mid-run stops the run
        self.inbox.put(_CLOSED)

    def run(self) -> None:
        threading.Thread(target=self._read, daemon=True, name="gdb-reader").start()
        try:
            while True:
                item = self.inbox.get()
                if item is _CLOSED:
                    return
                if item.kind == Kind.BAD:
                    if not self.stub.no_ack:
                        self.conn.sendall(b"-")
                    continue
                if item.kind != Kind.PACKET:
                    continue
                if not self.stub.no_ack:
                    self.conn.sendall(b"+")
                self.cancel.reset()
                reply = self.stub.handle(item.payload, self.cancel)
                self.conn.sendall(b"".join(frame(p) for p in reply.payloads))
                if reply.close:
                    return
        except OSError:
            return
