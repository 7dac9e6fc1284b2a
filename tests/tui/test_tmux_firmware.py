"""The firmware panes in a real terminal (tmux): interrupt lanes, a jump to an interrupt
entry, the peripherals pane and the serial console at the end."""

from __future__ import annotations

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
        for _ in range(3):  # two SysTick entries, then the UART's
            term.type("]")
            term.wait_for("entered ")
        term.wait_for("entered IRQ 5 (uart0) at icount")
        term.keys("p")
        screen = term.wait_for("SYST_CSR")
        assert "scs @ 0xe000e000" in screen  # the first device, at its address
        term.keys("g")
        term.type("100%")
        term.keys("Enter")
        term.wait_for("end of history")
        term.keys("C-l", "8")
        term.wait_for("ticks 2")  # the serial console's last line
