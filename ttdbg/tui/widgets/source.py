"""Source lines around the pc, when the program has DWARF line info and the file is here."""

from __future__ import annotations

import os

from rich.text import Text

from ttdbg.sourcefiles import SourceUnavailable, find_source

from ..view import StateView
from .pane import Pane


class Source(Pane):
    def __init__(self, search_dirs: list[str], id: str | None = None) -> None:
        super().__init__(title="source", id=id)
        self.search_dirs = search_dirs
        self._file: tuple[str, tuple[Text, ...]] | None = None  # the file shown, as rows
        self._shown = ""  # the path whose lines are on screen
        # The last path that could not be read, and why: not looked for again on every
        # move while the pc stays in its code (it is, when the pc goes elsewhere and back).
        self._missing: tuple[str, str] | None = None
        # (path, line), the file's rows, and that line highlighted
        self._lit_row: tuple[tuple[str, int], tuple[Text, ...], Text] | None = None

    def _rows_of(self, path: str) -> tuple[Text, ...]:
        if self._file is None or self._file[0] != path:
            _found, lines = find_source(path, self.search_dirs)
            width = len(str(len(lines)))
            rows = tuple(
                Text(f"{n:>{width}} ", style="dim") + Text(line)
                for n, line in enumerate(lines, start=1)
            )
            self._file = (path, rows)
        return self._file[1]

    def _lit(self, path: str, line: int, lines: tuple[Text, ...]) -> Text:
        """The current line, highlighted; the same object while the line stays current (it
        is then not compared, nor drawn, again)."""
        lit = self._lit_row
        if lit is None or lit[0] != (path, line) or lit[1] is not lines:
            row = lines[line - 1].copy()
            row.stylize("bold on grey23", len(str(len(lines))) + 1)
            lit = self._lit_row = ((path, line), lines, row)
        return lit[2]

    def show(self, view: StateView) -> None:
        if view.source is None:
            self._missing = None
            self.set_title("source")
            self._shown = ""
            self.set_rows([Text("no source for this address", style="dim")])
            return
        name = os.path.normpath(view.source.path)
        self.set_title(f"{name}:{view.source.line}")
        missing = self._missing
        try:
            if missing is not None and missing[0] == view.source.path:
                raise SourceUnavailable(missing[1])
            lines = self._rows_of(view.source.path)
        except SourceUnavailable as err:
            self._missing = (view.source.path, str(err))
            self._shown = ""
            self.set_rows([Text(f"{name}:{view.source.line} ({err})", style="dim")])
            return
        self._missing = None
        current = view.source.line
        if not 1 <= current <= len(lines):
            self._shown = ""
            self.set_rows([Text(f"{name}:{current} (the file has {len(lines)} lines)")])
            return
        rows = list(lines)
        rows[current - 1] = self._lit(view.source.path, current, lines)
        # The rows stay put while the current line is well inside them (a loop, the next
        # lines); otherwise the current line is centred.
        height = self.visible_rows
        margin = min(3, height // 4)
        top = self.top
        same_file = self.rows and len(self.rows) == len(rows) and self._shown == view.source.path
        if not (same_file and top + margin <= current - 1 < top + height - margin):
            top = max(0, current - 1 - height // 2)
        self._shown = view.source.path
        self.set_rows(rows, current - 1, top)
