"""Helpers for driving the TUI headlessly with Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from ttdbg.tui.app import TtdbgApp


async def settle(pilot: Pilot[None], app: TtdbgApp, timeout: float = 30) -> None:
    """Wait until the engine is idle and its last view is on screen."""
    deadline = time.monotonic() + timeout
    shown = -1
    while time.monotonic() < deadline:
        await pilot.pause(0.01)
        if app.idle and app.views_shown == shown:
            await pilot.pause()
            return
        shown = app.views_shown if app.idle else -1
    raise AssertionError("the TUI did not settle")


async def wait_for(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)
