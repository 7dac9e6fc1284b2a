"""`ttdbg record` on a terminal (tmux): rich's progress line shows while the guest runs and
gets out of the way of the guest's own output and prompts, never glued to them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import poll, require_tool
from tests.tui.tmux import Terminal

# Output, a few seconds of work, a prompt without a newline, a read, more output.
SCRIPT = (
    "echo one; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; "
    'printf "name? "; read x; echo got $x'
)


@pytest.mark.slow
def test_progress_line_leaves_the_guest_text_alone(tmp_path: Path) -> None:
    busybox = require_tool("busybox")
    term = Terminal(require_tool("tmux"), f"ttdbg-record-{os.getpid()}")
    done = tmp_path / "exit"
    command = (
        f"{sys.executable} -m ttdbg record -o {tmp_path / 'sh.ttrec'} -- {busybox} sh -c "
        f"'{SCRIPT}'; echo EXIT=$? > {done}; sleep 30"
    )
    term.start(command, 80, 10)
    try:

        def rows() -> list[str]:
            return term.screen().splitlines()

        # After a whole line of the guest's, the progress line shows under it.
        poll(lambda: "recording" in term.screen(), 60, term.screen, 0.05)
        assert rows()[0] == "one"
        assert "instructions" in rows()[1]
        # A prompt: the line is cleared first and not drawn again over it.
        poll(lambda: rows()[1].startswith("name?"), 60, term.screen, 0.05)
        assert rows()[1] == "name?"
        assert "recording" not in term.screen()
        term.keys("bob", "Enter")
        poll(done.exists, 60, term.screen, 0.05)
        assert done.read_text().strip() == "EXIT=0"
        assert [r for r in rows() if r] == ["one", "name? bob", "got bob"]
    finally:
        subprocess.run(
            [term.tmux, "-L", term.socket, "kill-server"], capture_output=True, timeout=30
        )
