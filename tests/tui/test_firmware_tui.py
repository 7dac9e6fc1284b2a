"""The TUI opens a firmware recording and steps both ways (its firmware panes are not there
yet; this keeps the Linux-only parts, such as loaded libraries, out of its way)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp

FW_REC = (
    Path(__file__).resolve().parents[2] / "sample_traces" / "firmware" / "riscv-virt" / "fw.ttrec"
)


def test_firmware_recording_steps_forward_and_back() -> None:
    async def scenario() -> list[int]:
        app = TtdbgApp(open_session(str(FW_REC), restore=False))
        seen = []
        async with app.run_test(size=(160, 48)) as pilot:
            for key in ("s", "s", "s", "S"):
                await pilot.press(key)
                await settle(pilot, app)
                seen.append(app.tl.position)
        return seen

    first, second, third, back = asyncio.run(scenario())
    assert 0 < first < second < third
    assert back == second  # a step back undoes the last step
