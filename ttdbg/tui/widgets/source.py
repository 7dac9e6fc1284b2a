"""Source lines around the pc, when the program has DWARF line info and the file is here."""

from __future__ import annotations

import os
from functools import lru_cache

from rich.text import Text

from ..view import StateView
from .pane import Pane


@lru_cache(maxsize=32)
def _read_lines(path: str) -> tuple[str, ...] | None:
    try:
        with open(path, errors="replace") as f:
            return tuple(f.read().splitlines())
    except OSError:
        return None


class Source(Pane):
    def __init__(self, search_dirs: list[str], id: str | None = None) -> None:
        super().__init__(title="source", id=id)
        self.search_dirs = search_dirs

    def _find(self, path: str) -> tuple[str, tuple[str, ...]] | None:
        candidates = [path] + [os.path.join(d, path) for d in self.search_dirs]
        candidates += [os.path.join(d, os.path.basename(path)) for d in self.search_dirs]
        for candidate in candidates:
            lines = _read_lines(os.path.normpath(candidate))
            if lines is not None:
                return candidate, lines
        return None

    def show(self, view: StateView, rows_wanted: int = 9) -> None:
        if view.source is None:
            self.border_title = "source"
            self.set_rows([Text("no line information here", style="dim")])
            return
        name = os.path.normpath(view.source.path)
        self.border_title = f"{name}:{view.source.line}"
        found = self._find(view.source.path)
        if found is None:
            self.set_rows([Text(f"{name}:{view.source.line} (file not found)", style="dim")])
            return
        _path, lines = found
        current = view.source.line
        lo = max(1, current - rows_wanted // 2)
        rows = []
        for n in range(lo, min(len(lines), lo + rows_wanted - 1) + 1):
            row = Text(f"{n:>5} ", style="dim")
            row.append(lines[n - 1], style="bold" if n == current else "")
            if n == current:
                row.stylize("on grey23")
            rows.append(row)
        self.set_rows(rows, current - lo)
