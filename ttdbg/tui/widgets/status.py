"""The status line: recording, architecture, position, interval, gdb, end of the program."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ..view import StateView


class StatusBar(Widget):
    """One line; repainted, never re-laid-out, on every move."""

    _text = Text()

    def render(self) -> Text:
        return self._text

    def update(self, text: Text) -> None:
        self._text = text
        self.refresh()

    def show(self, view: StateView, name: str, arch: str, gdb: str, note: str) -> None:
        pct = 100.0 * view.icount / view.end if view.end else 100.0
        text = Text()
        text.append(f" {name} ", style="bold")
        text.append(f"{arch} ", style="dim")
        text.append(f"icount {view.icount:,} / {view.end:,} ({pct:.1f}%)", style="bold cyan")
        text.append(f"  pc {view.pc:#x}")
        text.append(f"  snap {view.interval[0]:,}..{view.interval[1]:,}", style="dim")
        if gdb:
            text.append(f"  {gdb}", style="bold magenta")
        if note:
            text.append(f"  {note}", style="yellow")
        self.update(text)
