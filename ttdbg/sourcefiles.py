"""Source files named by debug info, read as untrusted paths: regular files under a size limit.

A program's DWARF can name any path (`#line 1 "/dev/zero"`, a FIFO, a huge file), so a file is
opened without blocking, checked to be a regular file on the open descriptor, and read only up
to MAX_SOURCE_BYTES.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache

MAX_SOURCE_BYTES = 4 << 20


class SourceUnavailable(Exception):
    """The file cannot be shown; the message says why in a few words."""


@lru_cache(maxsize=32)
def read_source(path: str) -> tuple[str, ...]:
    """The lines of the regular file at `path`; SourceUnavailable otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise SourceUnavailable(err.strerror or "cannot open") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceUnavailable("not a regular file")
        if info.st_size > MAX_SOURCE_BYTES:
            raise SourceUnavailable(f"larger than {MAX_SOURCE_BYTES >> 20} MiB")
        chunks = []
        left = MAX_SOURCE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise SourceUnavailable(f"larger than {MAX_SOURCE_BYTES >> 20} MiB")
    except OSError as err:
        raise SourceUnavailable(err.strerror or "cannot read") from None
    finally:
        os.close(fd)
    return tuple(b"".join(chunks).decode("utf-8", "replace").splitlines())


def find_source(path: str, search_dirs: list[str]) -> tuple[str, tuple[str, ...]]:
    """The first readable candidate for `path`: as named, then under each search directory
    (relative, then by base name). SourceUnavailable names the reason for the path as named."""
    candidates = [path] + [os.path.join(d, path) for d in search_dirs]
    candidates += [os.path.join(d, os.path.basename(path)) for d in search_dirs]
    first: SourceUnavailable | None = None
    for candidate in candidates:
        try:
            return candidate, read_source(os.path.normpath(candidate))
        except SourceUnavailable as err:
            first = first or err
    raise first or SourceUnavailable("not found")
