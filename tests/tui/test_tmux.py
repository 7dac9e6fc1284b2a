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


def drawn_size(screen: str) -> tuple[int, int]:
    """The columns and rows the TUI drew on: its widest line, and its key line's row."""
    rows = screen.rstrip("\n").split("\n")
    keyline = [y for y, row in enumerate(rows) if "? help" in row]
    return max(len(row.rstrip()) for row in rows), (keyline[-1] + 1 if keyline else 0)


def test_the_tui_fills_its_terminal_whatever_columns_and_lines_say(tmp_path: Path) -> None:
    """COLUMNS and LINES in the environment are a size from an earlier moment (GNU readline
    exports them in gdb, the Python REPL, pytest): on a terminal, the TUI draws at the
    terminal's own size."""
    done = tmp_path / "exit"
    with tui_terminal(None, 160, 48, done, environment="COLUMNS=80 LINES=24") as term:
        term.wait_for("icount 0 /")
        poll(lambda: drawn_size(term.screen()) == (160, 48), 30, term.diagnosis, 0.05)
        term.keys("i")  # still takes keys
        term.wait_for("icount 1 /")
        term.keys("q")
        poll(done.exists, 30, "ttdbg tui to exit", 0.05)
        assert done.read_text().strip() == "EXIT=0"
