"""The firmware panes in a real terminal (tmux): interrupt lanes, a jump to an interrupt
entry, the peripherals pane and the serial console at the end."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.tui.tmux import tui_terminal


@pytest.mark.slow
def test_firmware_panes_in_a_real_terminal(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "firmware" / "cortex-m" / "fw.ttrec", tmp_path / "fw.ttrec")
    with tui_terminal(tmp_path / "fw.ttrec", 160, 48, tmp_path / "exit") as term:
        term.wait_for("15: SysTick")  # its lane, once the history is read
        entered = re.compile(r"entered (.+?) at icount (\d+)")
        jumps: list[tuple[str, int]] = []
        before = None
        for _ in range(3):  # each ] goes to the next entry
            term.type("]")
            found = term.wait_for_new(entered, before)
            before = found.group(0)
            jumps.append((found.group(1), int(found.group(2))))
        assert [name for name, _icount in jumps] == ["SysTick", "SysTick", "IRQ 5 (uart0)"]
        assert jumps[0][1] < jumps[1][1] < jumps[2][1]
        term.keys("p")
        screen = term.wait_for("SYST_CSR")
        assert "scs @ 0xe000e000" in screen  # the first device, at its address
        term.keys("g")
        term.type("100%")
        term.keys("Enter")
        term.wait_for("end of history")
        term.keys("C-l", "8")
        term.wait_for("ticks 2")  # the serial console's last line
