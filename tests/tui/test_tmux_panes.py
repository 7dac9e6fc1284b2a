"""Every pane in a real terminal (tmux) at 80x24 and 160x48, asserted on the captured text."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, poll
from tests.tui.tmux import open_prompt, tui_terminal

HEX_ROW = re.compile(r"[0-9a-f]{12}(?: [0-9a-f]{2}){4,}\s+\S{4,}")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_every_pane_in_a_real_terminal(tmp_path: Path, size: tuple[int, int]) -> None:
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    shutil.copytree(SAMPLES / "src", tmp_path / "src")
    width, height = size
    with tui_terminal(tmp_path / "walk.ttrec", width, height, tmp_path / "exit") as term:
        term.wait_for("icount 0 /")
        open_prompt(term, ":", ":command")
        term.type("b *step_value")
        term.keys("Enter")
        term.wait_for("Breakpoint 1 at")
        term.keys("c")
        term.wait_for("breakpoint 1 at")
        term.keys("c")
        screen = term.wait_for("int doubled = x * 2;")  # the source pane
        assert "step_value" in screen  # the disassembly
        term.keys("4")  # memory: hex rows with their ASCII column
        poll(lambda: len(HEX_ROW.findall(term.screen())) >= 3, 30, term.screen, 0.05)
        term.keys("5")
        term.wait_for("main")  # stack: the return address into main
        term.keys("6")
        term.wait_for("getrandom")  # events: a syscall before the position
        term.keys("C-l", "9")
        term.wait_for("#1")  # the backtrace: step_value called from main
        assert "step_value (x=x@entry=3," in term.screen()  # as gdb's bt (cut at 80x24)
        assert "main ()" in term.screen()
        term.keys("0")
        term.wait_for("round = 1")  # the locals: the arguments, decoded
        assert "x = 3" in term.screen()
        term.keys("7")
        term.wait_for("step_value")  # marks: the breakpoint
        assert "break" in term.screen()
        term.keys("g")
        term.type("100%")
        term.keys("Enter")
        term.wait_for("end of history")
        term.keys("C-l", "8")  # the messages in the corner would cover the pane
        term.wait_for("counter=")  # output: what the program wrote
        term.keys("3")
        term.wait_for("rax")
        # A pasted command runs as typed: reverse-continue back to the last step_value call.
        term.keys(":rc", "Enter")
        poll(
            lambda: "breakpoint 1 at 0x401615" in term.screen().splitlines()[0],
            30,
            term.screen,
            0.05,
        )
        term.keys("q")
        poll((tmp_path / "exit").exists, 30, "ttdbg tui to exit", 0.05)
        assert (tmp_path / "exit").read_text().strip() == "EXIT=0"
