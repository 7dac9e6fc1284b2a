"""Keys sent to a real terminal in one burst (as typed fast or pasted) are all used, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import poll
from tests.tui.tmux import Terminal, tui_terminal

HELP = "ttdbg keys (lowercase"


def icount_on(screen: str) -> int:
    found = re.search(r"icount ([0-9,]+) /", screen)
    assert found is not None, screen
    return int(found.group(1).replace(",", ""))


def disassembly_rows(screen: str) -> list[str]:
    """The disassembly rows: the two mark columns, the address, the rest."""
    return re.findall(r"^│([● ][▶ ]) +([0-9a-f]+) ", screen, re.MULTILINE)


def help_round(term: Terminal, *keys: str) -> str:
    """Send `keys` and `?` in one call: the help must open (no key lost on the way), and
    escape closes it."""
    term.keys(*keys, "?")
    screen = term.wait_for(HELP)
    term.keys("Escape")
    poll(lambda: HELP not in term.screen(), 30, term.screen, 0.05)
    return screen


@pytest.mark.slow
def test_keys_in_one_burst_are_never_lost(tmp_path: Path) -> None:
    with tui_terminal(None, 160, 48, tmp_path / "exit") as term:
        # Before the first draw (the terminal not yet raw: enter arrives as a line feed).
        term.keys("i", "i", ":si", "Enter", "i")
        poll(lambda: "icount 4 /" in term.screen(), 60, term.screen, 0.05)
        help_round(term, "Down")
        help_round(term, "Up")
        help_round(term, "m", "b")  # a bookmark, then the help
        help_round(term, "m", "Up")  # a key that is no letter ends the prefix, then works
        help_round(term, "Space", "Down", "Down", "Space", "m", "a", "Up", "PageDown", "Space")
        help_round(term, ":goto 100", "Enter")  # keys after a command's enter wait for it
        poll(lambda: icount_on(term.screen()) == 100, 30, term.screen, 0.05)
        # The cursor moves before the breakpoint is set: two rows under the pc.
        rows = disassembly_rows(term.screen())
        pc_row = next(i for i, (marks, _addr) in enumerate(rows) if marks[1] == "▶")
        target = rows[pc_row + 2][1]
        help_round(term, "Down", "Down", "Space")
        poll(
            lambda: ("●", target) in [(m[0], a) for m, a in disassembly_rows(term.screen())],
            30,
            term.screen,
            0.05,
        )
        marked = [a for m, a in disassembly_rows(term.screen()) if m[0] == "●"]
        assert marked == [target], term.screen()
        # Commands pasted back to back run in order: two steps, then one more.
        term.keys(":si", "Enter", ":si", "Enter", "i")
        poll(lambda: icount_on(term.screen()) == 103, 30, term.screen, 0.05)
        term.keys("7")  # the marks pane lists both bookmarks
        screen = term.wait_for("'b")
        assert "'a" in screen
