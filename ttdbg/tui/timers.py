"""Textual timers whose time has already come fire at once instead of stopping the app."""

from __future__ import annotations

from typing import Any

from textual.timer import Timer

# Textual 8.2's Timer._run catches up on missed ticks in a loop that never awaits: with a
# negative interval the count it computes never gets past the first tick, so the loop spins
# for ever on the event loop's thread (no key, no repaint, no message is handled again); with
# a zero interval it divides by zero. A toast's interval is the time its notification has
# left, read just after ToastRack.show checked that it had not expired: a notification that
# expires in between (a few milliseconds of load or a GIL switch) froze the TUI, help screen
# on top, while the engine and gdb went on (1 stress run in 6 under load). The shortest
# delay is a millisecond: such a toast goes at once, as its notification already has.
SHORTEST_DELAY = 0.001

_textual_init = Timer.__init__


def _init(self: Timer, event_target: Any, interval: float, **options: Any) -> None:
    _textual_init(self, event_target, max(interval, SHORTEST_DELAY), **options)


def guard_timers() -> None:
    """Every Textual timer created from now on waits at least SHORTEST_DELAY."""
    Timer.__init__ = _init  # type: ignore[method-assign]
