"""Registers, with those the last instruction changed highlighted."""

from __future__ import annotations

from rich.text import Text

from ..view import StateView
from .pane import Pane

SHOWN = (
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
    "r13", "r14", "r15", "rip", "eflags", "fs_base", "gs_base", "mxcsr", "xmm0", "xmm1",
)  # fmt: skip


class Registers(Pane):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(title="registers", id=id)
        self.names: list[str] = []

    def show(self, view: StateView) -> None:
        rows = []
        self.names = [n for n in SHOWN if n in view.registers]
        width = 32 if any(n.startswith("xmm") for n in self.names) else 16
        for name in self.names:
            value = view.registers[name]
            digits = 32 if name.startswith("xmm") else 16
            row = Text()
            row.append(f"{name:>7} ", style="dim")
            style = "bold yellow" if name in view.changed else ""
            row.append(f"{value:0{digits}x}"[-width:], style=style)
            rows.append(row)
        self.set_rows(rows)

    @property
    def selected(self) -> str | None:
        return self.names[self.cursor] if 0 <= self.cursor < len(self.names) else None
