"""Memory in hex and ASCII at an address, bytes changed by the last instruction highlighted."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane

ADDRESS_DIGITS = 12


def bytes_per_row(width: int) -> int:
    """4, 8 or 16 bytes: as many as fit with their ASCII column (3 + 1 columns a byte)."""
    fit = (width - ADDRESS_DIGITS - 2) // 4
    return 16 if fit >= 16 else 8 if fit >= 8 else 4


class Memory(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="memory", id=id)
        self.base = 0
        self.row_bytes = 8
        self._shown: tuple[StateView, str | None, frozenset[int] | None] | None = None

    def show(
        self, view: StateView, follows: str | None = None, changed: frozenset[int] | None = None
    ) -> None:
        """Highlight the byte offsets in `changed` (by default, the last instruction's)."""
        self._shown = (view, follows, changed)
        changed = view.memory_changed if changed is None else changed
        self.base = view.memory_addr
        self.row_bytes = bytes_per_row(self.content_region.width or 40)
        where = f" (follows {follows})" if follows else ""
        self.border_title = f"memory @ {view.memory_addr:#x}{where}"
        if view.memory is None:
            self.set_rows([Text(f"{view.memory_addr:#x}: not mapped", style="red")])
            return
        rows = []
        step = self.row_bytes
        for r in range(0, len(view.memory), step):
            chunk = view.memory[r : r + step]
            row = Text(f"{view.memory_addr + r:0{ADDRESS_DIGITS}x} ", style="dim")
            for i, b in enumerate(chunk):
                style = "bold yellow" if r + i in changed else ""
                row.append(f"{b:02x}", style=style)
                row.append(" ")
            row.append(" " * (3 * (step - len(chunk)) + 1))
            row.append("".join(chr(b) if 32 <= b < 127 else "." for b in chunk), style="green")
            rows.append(row)
        self.set_rows(rows)

    def relayout(self) -> None:
        if self._shown is not None and bytes_per_row(self.content_region.width) != self.row_bytes:
            self.show(*self._shown)
        else:
            super().relayout()

    @property
    def selected(self) -> int:
        """The address of the first byte on the cursor row."""
        return self.base + self.row_bytes * self.cursor
