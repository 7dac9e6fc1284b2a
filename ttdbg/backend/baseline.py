"""The pages snapshots are stored against: the program and loader as loaded, plus every
file-backed mapping's pages as they are in its file.

A keyframe keeps only the pages that differ from this baseline, so a library is stored once
(in its FILE frame) however many snapshots see it mapped. The baseline of a state is computed
from that state alone (its platform's list of file mappings), so the writer and every reader
rebuild the same one.
"""

from __future__ import annotations

from typing import Any

from ttdbg.errors import RecordingError

from .filestore import FileStore
from .machine import PAGE
from .pagescan import nonzero_page_offsets

MappedView = tuple[int, int, str, int]  # start, end, content digest (hex), file offset


class PageBaseline:
    """Baseline pages for a platform state; the pages of each mapping are built once."""

    def __init__(self, program_pages: dict[int, bytes], files: FileStore) -> None:
        self.program_pages = program_pages
        self.files = files
        self._views: dict[MappedView, dict[int, bytes]] = {}
        self._offsets: dict[str, list[int]] = {}
        self._last: tuple[list[list[Any]], dict[int, bytes]] | None = None

    def __call__(self, platform: dict[str, Any]) -> dict[int, bytes]:
        mem = platform.get("mem", {})
        given = mem.get("views", []) if isinstance(mem, dict) else None
        # The same list as last time was checked then: restores repeat one state often.
        if self._last is not None and given is not None and self._last[0] == given:
            return self._last[1]
        views = _views(platform)
        pages = dict(self.program_pages)
        for view in views:
            pages.update(self._view_pages(view))
        self._last = ([list(v) for v in views], pages)
        return pages

    def _view_pages(self, view: MappedView) -> dict[int, bytes]:
        cached = self._views.get(view)
        if cached is not None:
            return cached
        start, end, digest, offset = view
        content = self.files.get(bytes.fromhex(digest))
        pages: dict[int, bytes] = {}
        if content is not None:
            # Pages past the end of the file are zero: never more pages than the file has.
            for at in self._nonzero_offsets(digest, content):
                if offset <= at < offset + end - start:
                    pages[start + at - offset] = content[at : at + PAGE].ljust(PAGE, b"\0")
        self._views[view] = pages
        return pages

    def _nonzero_offsets(self, digest: str, content: bytes) -> list[int]:
        """The file offsets of the non-zero pages of a file, found once per file (each
        segment a library maps is a view of its own)."""
        found = self._offsets.get(digest)
        if found is None:
            found = self._offsets[digest] = nonzero_page_offsets(content)
        return found


def checked_view(view: Any) -> MappedView:
    """A file-backed mapping from a snapshot, refused (ValueError) unless well formed."""
    if not isinstance(view, list | tuple) or len(view) != 4:
        raise ValueError(f"bad file mapping {str(view)[:80]}")
    start, end, digest, offset = view
    ints = all(type(x) is int for x in (start, end, offset))
    if not (ints and 0 <= start < end < 1 << 64 and 0 <= offset < 1 << 63):
        raise ValueError(f"bad file mapping {str(view)[:80]}")
    if (start | end | offset) % PAGE or not isinstance(digest, str) or len(digest) != 64:
        raise ValueError(f"bad file mapping {str(view)[:80]}")
    bytes.fromhex(digest)
    return (start, end, digest, offset)


def _views(platform: dict[str, Any]) -> tuple[MappedView, ...]:
    """The state's file mappings, checked: a snapshot comes from a file someone else made."""
    mem = platform.get("mem", {})
    views = mem.get("views", []) if isinstance(mem, dict) else None
    if not isinstance(views, list):
        raise RecordingError("corrupt snapshot (its file mappings are not a list)")
    try:
        return tuple(checked_view(view) for view in views)
    except ValueError as err:
        raise RecordingError(f"corrupt snapshot ({err})") from None
