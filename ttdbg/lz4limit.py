"""lz4 frame decompression that never produces more than a stated number of bytes."""

from __future__ import annotations

import lz4.frame

from ttdbg.errors import RecordingError

_CHUNK = 16 << 20


def decompress(data: bytes, limit: int, what: str) -> bytes:
    """The content of the lz4 frame `data`; RecordingError names `what` when the data is
    corrupt, cut short, followed by stray bytes, or would inflate past `limit` bytes."""
    inflate = lz4.frame.LZ4FrameDecompressor()
    parts: list[bytes] = []
    total = 0
    pending = data
    try:
        # In chunks: the decompressor allocates its whole `max_length` up front.
        while not inflate.eof:
            chunk = inflate.decompress(pending, max_length=min(limit - total + 1, _CHUNK))
            pending = b""
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                raise RecordingError(f"corrupt {what} (inflates past the {limit:,}-byte limit)")
            if inflate.needs_input and not inflate.eof:
                raise RecordingError(f"corrupt {what} (lz4 data cut short)")
    except RuntimeError:
        raise RecordingError(f"corrupt {what} (bad lz4 data)") from None
    if inflate.unused_data:
        raise RecordingError(f"corrupt {what} (stray bytes after the lz4 data)")
    return parts[0] if len(parts) == 1 else b"".join(parts)


class Inflater:
    """An lz4 frame read a piece at a time, never inflating past `limit` bytes in all: the
    whole content need not exist at once. RecordingError names `what` as `decompress` does."""

    def __init__(self, data: bytes, limit: int, what: str) -> None:
        self._inflate = lz4.frame.LZ4FrameDecompressor()
        self._pending = data
        self._buffer, self._pos = b"", 0  # inflated bytes, and how many of them were read
        self._limit = limit
        self._total = 0
        self.what = what

    def read(self, size: int) -> bytes:
        """The next `size` bytes (fewer only at the end of the content)."""
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos >= size:  # the common case: a page of the inflated piece
            self._pos = pos + size
            return buffer[pos : pos + size]
        parts = [buffer[pos:]]
        have = len(parts[0])
        try:
            while have < size and not self._inflate.eof:
                want = min(max(size - have, 1 << 16), self._limit - self._total + 1, _CHUNK)
                chunk = self._inflate.decompress(self._pending, max_length=want)
                self._pending = b""
                self._total += len(chunk)
                if self._total > self._limit:
                    raise RecordingError(
                        f"corrupt {self.what} (inflates past the {self._limit:,}-byte limit)"
                    )
                if not chunk and self._inflate.needs_input and not self._inflate.eof:
                    raise RecordingError(f"corrupt {self.what} (lz4 data cut short)")
                parts.append(chunk)
                have += len(chunk)
        except RuntimeError:
            raise RecordingError(f"corrupt {self.what} (bad lz4 data)") from None
        self._buffer, self._pos = b"".join(parts), min(size, have)
        return self._buffer[:size]

    def at_end(self) -> bool:
        """Whether the content is all read (a complete lz4 frame, no stray bytes after it)."""
        if self._pos < len(self._buffer) or self.read(1):
            return False
        if not self._inflate.eof:
            raise RecordingError(f"corrupt {self.what} (lz4 data cut short)")
        if self._inflate.unused_data:
            raise RecordingError(f"corrupt {self.what} (stray bytes after the lz4 data)")
        return True
