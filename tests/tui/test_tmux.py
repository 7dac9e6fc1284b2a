"""A real terminal: `ttdbg tui` in tmux starts on the sample, moves back with I, quits with q."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import poll
from tests.tui.tmux import open_prompt, tui_terminal


def test_tui_in_a_real_terminal(tmp_path: Path) -> None:
    done = tmp_path / "exit"
    with tui_terminal(None, 120, 40, done) as term:  # no FILE: the walk sample
        term.wait_for("walk.ttrec")
        screen = term.wait_for("icount 0 /")
        assert "disassembly" in screen
        assert "_start" in screen
        open_prompt(term, "g", "goto")
        term.type("500")
        term.keys("Enter")
        term.wait_for("icount 500 /")
        term.keys("I")
        term.wait_for("icount 499 /")
        term.keys("q")
        poll(done.exists, 30, "ttdbg tui to exit", 0.05)
        assert done.read_text().strip() == "EXIT=0"
