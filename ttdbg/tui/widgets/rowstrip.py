"""One row of rich text drawn as a strip of a given width, for the widgets that draw lines."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


def row_strip(row: Text, width: int, base: Style, console: Console) -> Strip:
    """The row's segments over the widget's style `base`, cut (with an ellipsis) or padded
    to `width`. Making a strip costs more than rendering the row: callers keep it."""
    if row.cell_len > width:
        row = row.copy()  # the row may be kept and shown again at another width
        row.truncate(width, overflow="ellipsis")
    segments = list(Segment.apply_style(row.render(console), base))
    if row.cell_len < width:
        segments.append(Segment(" " * (width - row.cell_len), base))
    return Strip(segments, width)
