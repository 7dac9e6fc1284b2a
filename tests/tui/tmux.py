"""A real terminal for the TUI: tmux running `ttdbg tui`, with keys in and screen text out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import poll, require_tool

# The test process's environment without a terminal size: GNU readline, which pytest loads,
# exports COLUMNS=80 and LINES=24 into the C environment (not os.environ) when its output is
# not a terminal. The tmux server would pass them on to every command it runs, and a program
# reading its size through shutil.get_terminal_size would believe them over the window's size.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


class Terminal:
    """One tmux server with one window running a command."""

    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux = tmux
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env=ENVIRONMENT,  # the server's global environment is that of its first client
        ).stdout

    def start(self, command: str, width: int, height: int) -> None:
        """Window `tui` of the given size running `command`; it keeps that size (no client
        ever attaches, and tmux would otherwise size it to its 80x24 default)."""
        # One command list: the server applies the options before it reads anything else, so
        # no resize to the default size can fall between creating the window and fixing it
        # (a TUI once drew itself at 80x24 inside a 160x48 window under load).
        size = ["-x", str(width), "-y", str(height)]
        self.run(
            *("-f", "/dev/null", "new-session", "-d", "-s", "tui", *size, command),
            *(";", "set-option", "-t", "tui", "default-size", f"{width}x{height}"),
            *(";", "set-option", "-t", "tui", "window-size", "manual"),
        )

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def type(self, text: str) -> None:
        """Literal text, as a paste would deliver it."""
        self.run("send-keys", "-t", "tui", "-l", text)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        poll(
            lambda: text in self.screen(),
            timeout,
            lambda: f"{text!r} on:\n{self.diagnosis()}",
            0.05,
        )
        return self.screen()

    def wait_for_new(
        self, pattern: re.Pattern[str], before: str | None, timeout: float = 30
    ) -> re.Match[str]:
        """Until the screen's first match of `pattern` is there and is not `before` (the
        text it matched before a key was sent): that match."""
        found: list[re.Match[str]] = []

        def changed() -> bool:
            match = pattern.search(self.screen())
            found[:] = [match] if match else []
            return match is not None and match.group(0) != before

        poll(changed, timeout, lambda: f"a new {pattern.pattern!r} on:\n{self.screen()}", 0.05)
        return found[0]

    def diagnosis(self) -> str:
        """The screen, the window's size and the stacks of the threads of the programs in it:
        if the TUI ever stops answering, the failure says where it waits."""
        lines = [
            self.screen(),
            self.run(
                "display-message", "-p", "-t", "tui", "window #{window_width}x#{window_height}"
            ),
        ]
        shell = self.run("list-panes", "-t", "tui", "-F", "#{pane_pid}").strip()
        children = subprocess.run(
            ["pgrep", "-P", shell], capture_output=True, text=True, timeout=30
        ).stdout.split()
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        for pid in children:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
                lines.append(f"process {pid} state {stat[0]}")
                dump = subprocess.run(
                    [spy, "dump", "--pid", pid], capture_output=True, text=True, timeout=60
                )
                lines.append(dump.stdout + dump.stderr)
            except (OSError, subprocess.SubprocessError) as err:
                lines.append(f"process {pid}: {err}")
        return "\n".join(lines)


@contextmanager
def tui_terminal(
    recording: Path | None,
    width: int,
    height: int,
    done: Path,
    *extra: str,
    environment: str = "",
) -> Iterator[Terminal]:
    """`ttdbg tui RECORDING` in a tmux window of the given size (with `environment`, NAME=VALUE
    words, added to its environment); the exit status goes to `done` when it ends."""
    term = Terminal(require_tool("tmux"), f"ttdbg-test-{os.getpid()}-{width}x{height}")
    args = " ".join([*([str(recording)] if recording else []), "--no-session", *extra])
    command = f"{environment} {sys.executable} -m ttdbg tui {args}; echo EXIT=$? > {done}; sleep 10"
    term.start(command, width, height)
    try:
        yield term
    finally:
        subprocess.run(
            [term.tmux, "-L", term.socket, "kill-server"], capture_output=True, timeout=30
        )


def open_prompt(term: Terminal, key: str, shown: str) -> None:
    """Until the app reads keys a key may be lost: press `key` until the prompt row (above
    the key line) starts with `shown` (a second press only once the first has had time to
    show: it would be typed into the prompt)."""

    def prompt_row() -> str:
        return term.screen().rstrip("\n").splitlines()[-2].strip()

    for _attempt in range(5):
        term.type(key)
        try:
            poll(lambda: prompt_row().startswith(shown), 6, "the prompt", 0.05)
            return
        except AssertionError:
            if prompt_row().startswith(key):
                raise  # the prompt is open but shows something else
    raise AssertionError(f"{shown!r} never showed:\n{term.screen()}")
