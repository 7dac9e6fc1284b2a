"""Breakpoints, watchpoints, replay breaks and bookmarks, in one list."""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set

from rich.text import Text

from ttdbg.backend.tracer import Watchpoint
from ttdbg.symbols import Symbols

from .pane import Pane


class Marks(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="breakpoints & bookmarks", id=id)

    def show(
        self,
        breakpoints: Set[int],
        watchpoints: Set[Watchpoint],
        replay_breaks: Set[int],
        bookmarks: dict[str, int],
        symbols: Symbols,
        interrupt_catch: Set[int] | None = None,
        interrupt_name: Callable[[int], str] = str,
        library_breaks: Sequence[str] = (),
        several: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> None:
        """`library_breaks`: each breakpoint on a library's code, as `FUNC in LIBRARY` and
        where it applies at the position shown; `several`: each breakpoint with several
        locations, its line and one line per location (gdb's N.M)."""
        rows = []
        if interrupt_catch is not None:
            caught = ", ".join(interrupt_name(n) for n in sorted(interrupt_catch))
            rows.append(Text(f"» catch interrupt: {caught or 'every interrupt'}", style="green"))
        for addr in sorted(breakpoints):
            rows.append(Text(f"● break {addr:#x} {symbols.describe(addr)}", style="red"))
        for row in library_breaks:
            rows.append(Text(f"● break {row}", style="red"))
        for head, locations in several:
            rows.append(Text(f"● break {head}", style="red"))
            rows.extend(Text(f"    {row}", style="red") for row in locations)
        for w in sorted(watchpoints, key=lambda w: w.address):
            rows.append(Text(f"◆ {w.kind.value} watch {w.address:#x}+{w.length}", style="magenta"))
        for icount in sorted(replay_breaks):
            rows.append(Text(f"■ replay break at icount {icount:,}", style="cyan"))
        for letter, icount in sorted(bookmarks.items()):
            rows.append(Text(f"'{letter} bookmark at icount {icount:,}", style="yellow"))
        if not rows:
            rows.append(Text("none yet: space on a disassembly line, :b, :watch, m<letter>"))
        self.set_rows(rows)
