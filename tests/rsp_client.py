"""A raw gdb remote-protocol client for tests: frames packets, reads one reply at a time."""

from __future__ import annotations

import re
import socket
import time

from ttdbg.backend.gdb.packets import frame

_PACKET = re.compile(rb"\$([^#$]*)#[0-9a-fA-F]{2}")


class RawClient:
    """What a hostile or simple gdb client does on the wire, with nothing hidden."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def reply(self) -> bytes:
        """The payload of the next packet the server sends (acks are skipped)."""
        while True:
            found = _PACKET.search(self.buffer)
            if found is not None:
                self.buffer = self.buffer[found.end() :]
                return found.group(1)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"the server hung up; unread: {self.buffer[-200:]!r}")
            self.buffer += chunk

    def ask(self, payload: bytes) -> bytes:
        """Send one packet and return the reply's payload, skipping console (O) packets."""
        self.send(frame(payload))
        while True:
            answer = self.reply()
            if not (answer.startswith(b"O") and answer != b"OK"):
                return answer


def without_registers(reply: bytes) -> bytes:
    """A stop reply without the registers it carries (`NN:value;` fields): the stop itself."""
    fields = reply[3:].split(b";")
    kept = [f for f in fields if re.fullmatch(rb"[0-9a-f]{2}:[0-9a-f]*", f) is None]
    return reply[:3] + b";".join(kept)


def stop_registers(reply: bytes) -> dict[int, bytes]:
    """The registers a stop reply carries: gdb register number -> value bytes (target order)."""
    found = re.findall(rb"(?:^T..|;)([0-9a-f]{2}):([0-9a-f]*)(?=;)", reply)
    return {int(n, 16): bytes.fromhex(v.decode()) for n, v in found}


def attach(port: int, timeout: float = 10) -> RawClient:
    """A client that got past the one-debugger-at-a-time check (the previous client's
    session may still be ending on the server)."""
    deadline = time.monotonic() + timeout
    while True:
        client = RawClient(port)
        answer = client.ask(b"?")
        if answer.startswith(b"T"):
            return client
        client.close()
        assert time.monotonic() < deadline, f"never attached: {answer!r}"
        time.sleep(0.02)
