"""Reading a file named by untrusted input: a regular file only, never blocking, size-capped."""

from __future__ import annotations

import os
import stat


class NotReadable(Exception):
    """The file cannot be used; the message says why in a few words."""


def read_regular_file(path: str, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Opened without blocking (a FIFO waits for no writer) and checked on the open descriptor,
    so a file swapped for a device or a FIFO after a check is refused too. FileNotFoundError
    passes through; everything else is NotReadable.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as err:
        if not follow_symlinks and os.path.islink(path):
            raise NotReadable("is a symbolic link; not followed") from None
        raise NotReadable(err.strerror or "cannot open") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotReadable("not a regular file")
        too_big = f"larger than {limit} bytes"
        if info.st_size > limit:
            raise NotReadable(too_big)
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise NotReadable(too_big)
        return b"".join(chunks)
    except OSError as err:
        raise NotReadable(err.strerror or "cannot read") from None
    finally:
        os.close(fd)
