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
