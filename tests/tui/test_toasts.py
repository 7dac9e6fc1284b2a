"""A toast whose notification expired before the toast was mounted: the TUI keeps answering."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path
from types import FrameType

from textual.notifications import Notification
from textual.widgets._toast import Toast

from tests.conftest import SAMPLES
from tests.tui.conftest import settle, wait_for
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp

FROZEN_AFTER = 30  # seconds without a return to the event loop


def test_a_toast_for_an_expired_notification_goes_and_the_tui_still_steps(tmp_path: Path) -> None:
    # ToastRack.show checks that a notification has not expired, then builds its toast, whose
    # timer waits for the time the notification has left: if it expired in between (load), that
    # time is negative, and Textual's timer loop then never awaits again. The alarm breaks
    # into that loop (the test fails instead of hanging).
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    frozen: list[str] = []

    def alarm(_signum: int, frame: FrameType | None) -> None:
        frozen.append(f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "?")
        raise TimeoutError("the event loop is frozen")

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(rec)))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            expired = Notification("late", timeout=1.0, raised_at=time.time() - 1.5)
            previous = signal.signal(signal.SIGALRM, alarm)
            signal.alarm(FROZEN_AFTER)
            try:
                await app.screen.mount(Toast(expired))
                await pilot.press("i")
                await settle(pilot, app)
                await wait_for(pilot, lambda: bool(frozen) or not app.screen.query(Toast))
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)
            assert not frozen, f"the event loop froze in {frozen}"
            assert app.tl.position == 1

    asyncio.run(scenario())
