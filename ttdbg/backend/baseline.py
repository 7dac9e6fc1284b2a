"""The pages snapshots are stored against: the program and loader as loaded, plus every
file-backed mapping's pages as they are in its file.

A keyframe keeps only the pages that differ from this baseline, so a library is stored once
(in its FILE frame) however many snapshots see it mapped. The baseline of a state is computed
from that state alone (its platform's list of file mappings), so the writer and every reader
rebuild the same one.
"""

from __future__ import annotations

from typing import Any

from .filestore import FileStore
from .machine import PAGE

MappedView = tuple[int, int, str, int]  # start, end, content digest (hex), file offset


class PageBaseline:
    """Baseline pages for a platform state; the pages of each mapping are built once."""

    def __init__(self, program_pages: dict[int, bytes], files: FileStore) -> None:
        self.program_pages = program_pages
        self.files = files
        self._views: dict[MappedView, dict[int, bytes]] = {}
        self._last: tuple[tuple[MappedView, ...], dict[int, bytes]] | None = None

    def __call__(self, platform: dict[str, Any]) -> dict[int, bytes]:
        views = tuple(tuple(v) for v in platform.get("mem", {}).get("views", ()))
        if self._last is not None and self._last[0] == views:
            return self._last[1]
        pages = dict(self.program_pages)
        for view in views:
            pages.update(self._view_pages(view))
        self._last = (views, pages)
        return pages

    def _view_pages(self, view: MappedView) -> dict[int, bytes]:
        cached = self._views.get(view)
        if cached is not None:
            return cached
        start, end, digest, offset = view
        content = self.files.get(bytes.fromhex(digest)) if isinstance(digest, str) else None
        pages: dict[int, bytes] = {}
        if content is not None and offset >= 0:
            # Pages past the end of the file are zero: never more pages than the file has.
            stop = min(end, start + len(content) - offset + PAGE - 1)
            for addr in range(start, stop, PAGE):
                at = offset + addr - start
                page = content[at : at + PAGE]
                if page.count(0) != len(page):
                    pages[addr] = page.ljust(PAGE, b"\0")
        self._views[view] = pages
        return pages
