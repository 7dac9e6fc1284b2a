"""Messages the panes send up to the app (attributes go down, messages go up)."""

from __future__ import annotations

from textual.message import Message


class SeekRequest(Message):
    """A pane asks to go to an icount (timeline click or drag, an event picked in a list)."""

    def __init__(self, icount: int, record: bool = True) -> None:
        super().__init__()
        self.icount = icount
        self.record = record
