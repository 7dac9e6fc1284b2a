"""SVG snapshots of the main screen (pytest-textual-snapshot); refresh with --snapshot-update."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp


@pytest.fixture
def app(tmp_path: Path) -> TtdbgApp:
    # A copy named like the sample: nothing absolute or time-dependent appears on screen.
    shutil.copytree(SAMPLES / "src", tmp_path / "src")
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    return TtdbgApp(open_session(str(tmp_path / "walk.ttrec")))


async def _settle(pilot: Any) -> None:
    await settle(pilot, pilot.app)
    pilot.app.clear_notifications()  # toasts expire on a timer: keep them out of the picture
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_start_of_the_recording(snap_compare: Any, app: TtdbgApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_at_a_breakpoint_in_step_value(
    snap_compare: Any, app: TtdbgApp, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("colon", *"b *step_value", "enter")
        await pilot.press("c", "c", "i", "i")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
