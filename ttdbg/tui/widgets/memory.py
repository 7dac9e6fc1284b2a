"""Memory in hex and ASCII at an address, bytes changed by the last instruction highlighted."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane

ROW = 8  # bytes per row: fits the right-hand column at 80 columns too


class Memory(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="memory", id=id)
        self.base = 0

    def show(
        self, view: StateView, follows: str | None = None, changed: frozenset[int] | None = None
    ) -> None:
        """Highlight the byte offsets in `changed` (by default, the last instruction's)."""
        changed = view.memory_changed if changed is None else changed
        self.base = view.memory_addr
        where = f" (follows {follows})" if follows else ""
        self.border_title = f"memory @ {view.memory_addr:#x}{where}"
        if view.memory is None:
            self.set_rows([Text(f"{view.memory_addr:#x}: not mapped", style="red")])
            return
        rows = []
        for r in range(0, len(view.memory), ROW):
            chunk = view.memory[r : r + ROW]
            row = Text(f"{view.memory_addr + r:012x} ", style="dim")
            for i, b in enumerate(chunk):
                style = "bold yellow" if r + i in changed else ""
                row.append(f"{b:02x}", style=style)
                row.append(" ")
            row.append(" ")
            row.append("".join(chr(b) if 32 <= b < 127 else "." for b in chunk), style="green")
            rows.append(row)
        self.set_rows(rows)

    @property
    def selected(self) -> int:
        """The address of the first byte on the cursor row."""
        return self.base + ROW * self.cursor
