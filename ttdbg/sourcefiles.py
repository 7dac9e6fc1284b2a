"""Source files named by debug info, read as untrusted paths: regular files under a size limit.

A program's DWARF can name any path (`#line 1 "/dev/zero"`, a FIFO, a huge file), so a file is
opened without blocking, checked to be a regular file on the open descriptor, and read only up
to MAX_SOURCE_BYTES.
"""

from __future__ import annotations

import os
from functools import lru_cache

from .regularfile import NotReadable, read_regular_file

MAX_SOURCE_BYTES = 4 << 20


class SourceUnavailable(Exception):
    """The file cannot be shown; the message says why in a few words."""


@lru_cache(maxsize=32)
def read_source(path: str) -> tuple[str, ...]:
    """The lines of the regular file at `path`; SourceUnavailable otherwise."""
    try:
        data = read_regular_file(path, MAX_SOURCE_BYTES)
    except FileNotFoundError as err:
        raise SourceUnavailable(err.strerror or "cannot open") from None
    except NotReadable as err:
        raise SourceUnavailable(str(err)) from None
    return tuple(data.decode("utf-8", "replace").splitlines())


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
