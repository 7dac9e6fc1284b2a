"""The TUI on a dynamic recording whose library directory is gone: `b FUNC` finds functions
in the libraries the recording maps, and the panes name library code."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot

from tests.integration.dynprogs import record_with_vanished_library
from tests.tui.conftest import settle
from tests.tui.test_panes import screen_text
from ttdbg.session import open_session
from ttdbg.tui.app import PANES, TtdbgApp
from ttdbg.tui.widgets.pane import Pane


async def pane_text(pilot: Pilot[None], app: TtdbgApp, name: str) -> str:
    """What the pane shows, brought to the front with its key."""
    await pilot.press(PANES[name][0])
    await pilot.pause()
    return "\n".join(screen_text(app.query_one(f"#{PANES[name][1]}", Pane)))


def test_break_on_library_functions_by_name(tmp_path: Path) -> None:
    rec, _lib = record_with_vanished_library(tmp_path)

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(rec)))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            # Neither library is mapped yet at icount 0: both are found in the recording.
            await pilot.press("colon", *"b lib_add", "enter", "colon", *"b puts", "enter")
            await pilot.press("c")
            await settle(pilot, app)
            assert "lib_add" in await pane_text(pilot, app, "disassembly")
            stack = await pane_text(pilot, app, "stack")
            assert "main+" in stack, stack  # the return address into the program
            await pilot.press("colon", *"delete 1", "enter", "c")
            await settle(pilot, app)
            disassembly = await pane_text(pilot, app, "disassembly")
            assert "puts" in disassembly, disassembly  # libc, from the recording's copy
            assert "main+" in await pane_text(pilot, app, "stack")

    asyncio.run(scenario())
