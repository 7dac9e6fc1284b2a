"""Bytes arriving on the host side of a serial console while recording (stdin): read without
blocking the guest, kept until the UART's FIFO has room (never dropped)."""

from __future__ import annotations

import os
import select

READ_CHUNK = 4096
MAX_BUFFERED = 1 << 20  # stop reading the host while this much waits for the guest


class SerialInput:
    """A host file descriptor feeding one serial port."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = fd is None

    def _read(self, timeout: float) -> None:
        if self.closed or self.fd is None or len(self.buffer) >= MAX_BUFFERED:
            return
        try:
            ready, _w, _x = select.select([self.fd], [], [], timeout)
        except InterruptedError:
            return
        if not ready:
            return
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.buffer += data
        else:
            self.closed = True

    def available(self) -> bool:
        """Whether bytes are waiting now (looks at the host without waiting)."""
        if not self.buffer:
            self._read(0)
        return bool(self.buffer)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a byte; whether one is waiting."""
        if not self.buffer:
            self._read(timeout)
        return bool(self.buffer)

    def take(self, room: int) -> bytes:
        """Up to `room` waiting bytes, removed from the buffer."""
        data = bytes(self.buffer[:room])
        del self.buffer[:room]
        return data
