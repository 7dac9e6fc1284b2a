"""Marking lines of a widget for the screen's next update without Textual's message hops."""

from __future__ import annotations

from textual.geometry import Region
from textual.widget import Widget


def repaint(widget: Widget, *regions: Region) -> None:
    """Repaint `regions` of `widget`'s content (all of the widget when none are given).

    `Widget.refresh` sends the widget a Prompt, whose idle handler sends the screen an Update,
    whose handler adds the widget to the screen's dirty set: two messages through two queues
    for each of the five or six widgets a step changes. This adds it to that set at once; the
    screen's own Prompt (one a step, whoever asks first) starts its update as before. A
    widget not on the current screen's map yet goes the usual way."""
    if not (widget.is_mounted and widget.display):
        widget.refresh(*regions)
        return
    screen = widget.screen
    if screen is not widget.app.screen or screen not in screen._compositor:
        widget.refresh(*regions)
        return
    widget._set_dirty(*regions)
    screen._dirty_widgets.add(widget)
    screen.check_idle()
