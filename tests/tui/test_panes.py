"""Every pane shows content at every terminal size, reached by its key and by `:show NAME`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widget import Widget

from tests.conftest import SAMPLES
from tests.tui.conftest import settle
from ttdbg.session import open_session
from ttdbg.tui.app import PANES, TtdbgApp
from ttdbg.tui.widgets.pane import Pane

SIZES = [(80, 24), (120, 40), (160, 48), (240, 70)]

# A Linux recording has no peripherals pane (its tab holds the threads); firmware's panes are
# checked against a forward replay in test_firmware_tui.py.
FIRMWARE_ONLY = {"peripherals"}
LINUX_PANES = {name: keys for name, keys in PANES.items() if name not in FIRMWARE_ONLY}


def screen_text(widget: Widget) -> list[str]:
    """The text of the widget's rows as drawn (its border and padding included)."""
    size = widget.outer_size
    strips = widget.render_lines(Region(0, 0, size.width, size.height))
    return ["".join(seg.text for seg in strip) for strip in strips]


@pytest.fixture
def walk_copy(tmp_path: Path) -> Path:
    shutil.copy(SAMPLES / "walk.ttrec", tmp_path / "walk.ttrec")
    shutil.copytree(SAMPLES / "src", tmp_path / "src")
    return tmp_path / "walk.ttrec"


# What each pane shows at a breakpoint in step_value after a few rounds of the loop.
EXPECTED = {
    "disassembly": "step_value",
    "source": "int doubled = x * 2;",
    "registers": "rax",
    "memory": "7fffffff",
    "stack": "main",
    "events": "getrandom",
    "marks": "break",
    "output": "(nothing yet)",
    "backtrace": "main",
    "locals": "round = 1",
    "threads": "runnable",
}


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_pane_has_content(walk_copy: Path, size: tuple[int, int]) -> None:
    async def scenario() -> None:
        app = TtdbgApp(open_session(str(walk_copy)))
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *"b *step_value", "enter", "c", "c")
            await settle(pilot, app)
            for name, (key, pane_id, _tab) in LINUX_PANES.items():
                await pilot.press(key)
                await pilot.pause()
                pane = app.query_one(f"#{pane_id}", Pane)
                assert app.focused is pane, name
                assert pane.content_region.height >= 3, f"{name} is {pane.content_region}"
                text = "\n".join(screen_text(pane))
                body = [line.strip("│╭╮╰╯─ ") for line in screen_text(pane)[1:-1]]
                assert sum(bool(line) for line in body) >= min(3, len(pane.rows)), (
                    f"{name} at {size} is blank:\n{text}"
                )
                assert EXPECTED[name] in text, f"{name} at {size}:\n{text}"

    asyncio.run(scenario())


def test_show_command_reaches_each_pane(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = TtdbgApp(open_session(str(walk_copy)))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, app)
            for name, (_key, pane_id, _tab) in LINUX_PANES.items():
                await pilot.press("colon", *f"show {name}", "enter")
                await pilot.pause()
                assert app.focused is app.query_one(f"#{pane_id}"), name
            for name in FIRMWARE_ONLY:
                await pilot.press("colon", *f"show {name}", "enter")
                await pilot.pause()
                assert not app.query(f"#{PANES[name][1]}")
                assert any(f"no {name} pane" in n.message for n in app._notifications)
            await pilot.press("colon", *"show nothing", "enter")
            await pilot.pause()
            assert any("no pane 'nothing'" in n.message for n in app._notifications)

    asyncio.run(scenario())


def test_a_pane_scrolls_to_keep_its_cursor_in_view(walk_copy: Path) -> None:
    async def scenario() -> None:
        app = TtdbgApp(open_session(str(walk_copy)))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, app)
            await pilot.press("3")  # registers: longer than the box at 80x24
            regs = app.query_one("#registers", Pane)
            assert len(regs.rows) > regs.visible_rows
            assert "rip" not in "\n".join(screen_text(regs))
            for _ in range(len(regs.rows)):
                await pilot.press("down")
            await pilot.pause()
            assert "rip" in "\n".join(screen_text(regs))
            assert regs.top > 0

    asyncio.run(scenario())
