"""The timeline widget's event density buckets, against counting every event."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ttdbg.tui.widgets.timeline import Timeline


@given(
    end=st.integers(1, 10**7),
    width=st.integers(2, 300),
    zoom=st.integers(0, 12),
    position=st.floats(0, 1),
    data=st.data(),
)
def test_column_counts_match_a_pass_over_every_event(
    end: int, width: int, zoom: int, position: float, data: st.DataObject
) -> None:
    events = sorted(data.draw(st.lists(st.integers(0, end), max_size=200)))
    widget = Timeline(end, [], events)
    widget.position, widget.zoom = int(end * position), zoom
    lo, hi = widget.span()
    expected = [0] * width
    for icount in events:
        if lo <= icount <= hi and hi != lo:
            expected[(icount - lo) * (width - 1) // (hi - lo)] += 1
    assert widget.column_counts(width) == expected
