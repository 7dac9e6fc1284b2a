"""A real terminal under load: `ttdbg tui --gdb-port` in tmux takes keys (marks, breakpoints,
scrolling) while a raw gdb client inserts and removes breakpoints and steps, for about a
minute; neither hangs, and both still work afterwards."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.gdb_steps import free_port
from tests.conftest import BIN, SAMPLES, poll, require_tool
from tests.rsp_client import attach
from tests.tui.tmux import Terminal
from ttdbg.symbols import Symbols

STRESS_SECONDS = 50
KEYS = ["Space", "Down", "Down", "Space", "m", "a", "Up", "PageDown", "Space", "PageUp", "m", "b"]
HELP_TITLE = "ttdbg keys (lowercase"
STEP_VALUE = Symbols((BIN / "walk").read_bytes()).by_name["step_value"].addr


def icount_on(text: str) -> int:
    found = re.search(r"icount ([0-9,]+) /", text)
    assert found is not None, text
    return int(found.group(1).replace(",", ""))


@pytest.mark.slow
def test_tui_keys_and_gdb_packets_for_a_minute_never_hang(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    term = Terminal(tmux, f"ttdbg-stress-{os.getpid()}")
    done = tmp_path / "exit"
    port = free_port()

    run = term.run
    screen = term.screen

    def prompt_row() -> str:
        return screen().rstrip("\n").splitlines()[-2].strip()

    diagnosis = term.diagnosis

    command = (
        f"{sys.executable} -m ttdbg tui {rec} --gdb-port {port}; echo EXIT=$? > {done}; sleep 10"
    )
    term.start(command, 160, 48)
    rounds = [0]
    failure: list[BaseException] = []
    try:
        poll(lambda: "icount 0 /" in screen(), 60, lambda: f"the TUI on:\n{screen()}", 0.1)
        deadline = time.monotonic() + STRESS_SECONDS

        def gdb_client() -> None:
            try:
                with attach(port, timeout=60) as client:
                    while time.monotonic() < deadline:
                        assert client.ask(b"Z0,%x,1" % STEP_VALUE) == b"OK"
                        assert client.ask(b"vCont;s").startswith(b"T05")
                        assert client.ask(b"z0,%x,1" % STEP_VALUE) == b"OK"
                        assert client.ask(b"bs").startswith(b"T05")
                        assert client.ask(b"vCont;s").startswith(b"T05")
                        rounds[0] += 1
                    assert client.ask(b"D") == b"OK"
            except BaseException as err:  # reported below
                failure.append(err)

        thread = threading.Thread(target=gdb_client, daemon=True)
        thread.start()
        presses = 0
        while thread.is_alive() and time.monotonic() < deadline + 60:
            # A round of keys, then the help screen: once it shows, the TUI has taken every
            # key before it, so the backlog stays bounded however slow a redraw is here.
            # The help closes on a second `?`: a plain byte, where escape is also the first
            # byte of every terminal sequence (test_tmux_keys covers escape on its own).
            run("send-keys", "-t", "tui", *KEYS, "?")
            poll(
                lambda: HELP_TITLE in screen(), 60, lambda: f"help after keys:\n{diagnosis()}", 0.05
            )
            run("send-keys", "-t", "tui", "?")
            poll(
                lambda: HELP_TITLE not in screen(), 60, lambda: f"help closed:\n{diagnosis()}", 0.05
            )
            presses += len(KEYS) + 2
        thread.join(timeout=60)
        assert not thread.is_alive(), f"gdb got no answer after {rounds[0]} rounds"
        assert not failure, failure
        assert rounds[0] > 0
        # The TUI still takes keys and moves once gdb has gone.
        poll(lambda: "gdb attached" not in screen(), 30, diagnosis, 0.1)
        # A non-letter ends a pending `m` mark (and focuses the disassembly). The position on
        # screen may still be catching up with gdb's last step, so go to an absolute icount
        # (operations run in order) before checking that stepi moves by exactly one.
        run("send-keys", "-t", "tui", "1")
        run("send-keys", "-t", "tui", "g")
        poll(lambda: prompt_row().startswith("goto"), 30, diagnosis, 0.1)
        run("send-keys", "-t", "tui", "-l", "1000")
        run("send-keys", "-t", "tui", "Enter")
        poll(lambda: icount_on(screen()) == 1000, 60, diagnosis, 0.1)
        run("send-keys", "-t", "tui", "i")
        poll(lambda: icount_on(screen()) == 1001, 60, diagnosis, 0.1)
        run("send-keys", "-t", "tui", "q")
        poll(done.exists, 30, "ttdbg tui to exit", 0.1)
        assert done.read_text().strip() == "EXIT=0"
        print(f"TUI stress: {presses} keys, {rounds[0]} gdb rounds of 5 packets")
    finally:
        subprocess.run([tmux, "-L", term.socket, "kill-server"], capture_output=True, timeout=30)
