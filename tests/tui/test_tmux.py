"""A real terminal: `ttdbg tui` in tmux starts on the sample, moves back with I, quits with q."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import poll, require_tool


def test_tui_in_a_real_terminal(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    sock = f"ttdbg-test-{os.getpid()}"
    done = tmp_path / "exit"

    def run(*args: str) -> str:
        return subprocess.run(
            [tmux, "-L", sock, *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout

    def screen() -> str:
        return run("capture-pane", "-p", "-t", "tui")

    def wait_for(text: str, timeout: float = 30) -> None:
        poll(lambda: text in screen(), timeout, lambda: f"{text!r} on:\n{screen()}", 0.05)

    def goto_prompt() -> bool:
        if "goto" in screen():
            return True
        run("send-keys", "-t", "tui", "g")
        return False

    command = f"{sys.executable} -m ttdbg tui --no-session; echo EXIT=$? > {done}; sleep 10"
    run("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", command)
    try:
        wait_for("walk.ttrec")
        wait_for("icount 0 /")
        assert "disassembly" in screen()
        assert "_start" in screen()
        # Until the app reads keys, a key may be lost: press g until the prompt shows.
        poll(goto_prompt, 30, lambda: f"the goto prompt on:\n{screen()}", 0.2)
        run("send-keys", "-t", "tui", "5", "0", "0", "Enter")
        wait_for("icount 500 /")
        run("send-keys", "-t", "tui", "I")
        wait_for("icount 499 /")
        run("send-keys", "-t", "tui", "q")
        poll(done.exists, 30, "ttdbg tui to exit", 0.05)
        assert done.read_text().strip() == "EXIT=0"
    finally:
        subprocess.run([tmux, "-L", sock, "kill-server"], capture_output=True, timeout=30)
