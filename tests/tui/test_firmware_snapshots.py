"""SVG snapshots of the TUI on firmware recordings: interrupt lanes, the serial console and
the peripherals pane (refresh with --snapshot-update, after looking at them)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp


def firmware_app(tmp_path: Path, board: str) -> TtdbgApp:
    # A copy with the source beside it, named as the sample: no absolute path on screen.
    for name in ("fw.ttrec", "fw.c"):
        shutil.copy(SAMPLES / "firmware" / board / name, tmp_path / name)
    return TtdbgApp(open_session(str(tmp_path / "fw.ttrec"), restore=False), fill_checkpoints=False)


def keys_then_settle(*keys: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, pilot.app)
        pilot.app.clear_notifications()  # toasts expire on a timer: keep them out
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_serial_console_at_the_end(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = firmware_app(tmp_path, "aarch64-virt")
    run_before = keys_then_settle("g", *"100%", "enter", "8")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_peripherals_at_a_uart_interrupt_entry(snap_compare: Any, tmp_path: Path) -> None:
    app = firmware_app(tmp_path, "cortex-m")
    # The third interrupt entry is the UART's (IRQ 5), after two SysTick entries.
    run_before = keys_then_settle("right_square_bracket", "right_square_bracket",
                                  "right_square_bracket", "p")  # fmt: skip
    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)
