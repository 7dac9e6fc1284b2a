"""Memory in hex and ASCII at an address, bytes changed by the last instruction highlighted."""

from __future__ import annotations

from functools import partial

from rich.text import Text

from ..view import StateView
from .pane import Pane, RowMemo

ADDRESS_DIGITS = 12
# Bytes outside printable ASCII show as "." in the ASCII column.
PRINTABLE = {b: "." for b in range(256) if not 32 <= b < 127}


def bytes_per_row(width: int) -> int:
    """4, 8 or 16 bytes: as many as fit with their ASCII column (3 + 1 columns a byte)."""
    fit = (width - ADDRESS_DIGITS - 2) // 4
    return 16 if fit >= 16 else 8 if fit >= 8 else 4


def _row(addr: int, chunk: bytes, lit: tuple[int, ...], step: int) -> Text:
    """One row: the address, the bytes in hex (those in `lit` highlighted), their ASCII."""
    hex_at = ADDRESS_DIGITS + 1  # where the first byte's digits start
    plain = (
        f"{addr:0{ADDRESS_DIGITS}x} {chunk.hex(' ')}"
        f"{' ' * (3 * (step - len(chunk)) + 2)}{chunk.decode('latin-1').translate(PRINTABLE)}"
    )
    row = Text(plain)
    row.stylize("dim", 0, ADDRESS_DIGITS + 1)
    row.stylize("green", len(plain) - len(chunk))
    for i in lit:
        row.stylize("bold yellow", hex_at + 3 * i, hex_at + 3 * i + 2)
    return row


class Memory(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="memory", id=id)
        self.base = 0
        self.row_bytes = 8
        self._shown: tuple[StateView, str | None, frozenset[int] | None] | None = None
        self._memo = RowMemo()
        self._drawn_from: tuple[object, ...] | None = None  # what the rows were made from

    def show(
        self, view: StateView, follows: str | None = None, changed: frozenset[int] | None = None
    ) -> None:
        """Highlight the byte offsets in `changed` (by default, the last instruction's)."""
        self._shown = (view, follows, changed)
        changed = view.memory_changed if changed is None else changed
        row_bytes = bytes_per_row(self.content_region.width or 40)
        # Most steps write no byte here and lit none last time: then nothing on screen
        # changes, and the 64 rows are not looked at again.
        drawn = (view.memory_addr, view.memory, changed, follows, row_bytes)
        if drawn == self._drawn_from:
            return
        self._drawn_from = drawn
        self.base = view.memory_addr
        self.row_bytes = row_bytes
        where = f" (follows {follows})" if follows else ""
        self.set_title(f"memory @ {view.memory_addr:#x}{where}")
        if view.memory is None:
            self.set_rows([Text(f"{view.memory_addr:#x}: not mapped", style="red")])
            return
        step = self.row_bytes
        memory = view.memory
        lit_in_row: dict[int, list[int]] = {}  # row offset -> changed bytes in it
        for offset in sorted(changed):
            lit_in_row.setdefault(offset - offset % step, []).append(offset % step)
        rows = []
        for r in range(0, len(memory), step):
            chunk = memory[r : r + step]
            lit = tuple(lit_in_row.get(r, ()))
            addr = view.memory_addr + r
            rows.append(
                self._memo.row((addr, chunk, lit, step), partial(_row, addr, chunk, lit, step))
            )
        self._memo.done()
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
