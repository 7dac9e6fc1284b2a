"""The TUI and a gdb client share one engine: keys and gdb packets together never deadlock."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

from tests.conftest import BIN, SAMPLES
from tests.rsp_client import attach
from tests.tui.conftest import settle, wait_for
from ttdbg.session import open_session
from ttdbg.symbols import Symbols
from ttdbg.tui.app import TtdbgApp

STEP_VALUE = Symbols((BIN / "walk").read_bytes()).by_name["step_value"].addr
ROUNDS = 60
KEYS = ("space", "down", "space", "m", "a", "up", "pagedown", "space", "pageup")


def gdb_rounds(port: int, answers: list[bytes], rounds: int = ROUNDS) -> None:
    """What gdb does around every step: insert breakpoints, step, remove them."""
    with attach(port) as client:
        for _ in range(rounds):
            answers.append(client.ask(b"Z0,%x,1" % STEP_VALUE))
            answers.append(client.ask(b"vCont;s"))
            answers.append(client.ask(b"g")[:2])
            answers.append(client.ask(b"z0,%x,1" % STEP_VALUE))
        answers.append(client.ask(b"D"))


def test_keys_and_a_gdb_client_at_once_never_deadlock(tmp_path: Path) -> None:
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    answers: list[bytes] = []
    errors: list[BaseException] = []

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(rec)), gdb_port=0)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            port = app.gdb_server.address[1]

            def client() -> None:
                try:
                    gdb_rounds(port, answers)
                except BaseException as err:  # reported by the test below
                    errors.append(err)

            thread = threading.Thread(target=client, daemon=True)
            thread.start()
            presses = 0
            while thread.is_alive():
                await pilot.press(KEYS[presses % len(KEYS)])
                presses += 1
                await pilot.pause(0.001)
            await wait_for(pilot, lambda: not app.gdb_attached)
            await settle(pilot, app)
            # gdb left the timeline where its steps took it, and the screen shows that.
            assert app.view is not None
            assert app.view.icount == app.tl.position == ROUNDS
            assert presses > 0

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as err:
            errors.append(err)

    ui = threading.Thread(target=run, daemon=True)
    ui.start()
    ui.join(timeout=120)
    assert not ui.is_alive(), f"deadlock: gdb got {len(answers)} answers, then none"
    assert not errors, errors
    assert answers[-1] == b"OK"
    assert all(a.startswith((b"OK", b"T05")) or len(a) == 2 for a in answers), answers[:8]


def test_the_screen_follows_a_burst_of_gdb_steps_when_it_pauses(tmp_path: Path) -> None:
    """gdb moves in bursts (seven requests a stepi, thousands from a script): the screen
    shows where gdb stopped once it pauses, without a view after every step (each view took
    the shared engine, and the GIL, from gdb's next request: 10 ms a stepi instead of 1)."""
    rec = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    steps = 200
    stops: list[bytes] = []
    errors: list[BaseException] = []

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(rec)), gdb_port=0)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            start, views = app.tl.position, app.views_shown

            def client() -> None:
                try:
                    with attach(app.gdb_server.address[1]) as gdb:
                        stops.extend(gdb.ask(b"vCont;s") for _ in range(steps))
                except BaseException as err:  # reported by the test below
                    errors.append(err)

            thread = threading.Thread(target=client, daemon=True)
            thread.start()
            while thread.is_alive():
                await pilot.pause(0.01)
            await settle(pilot, app)
            assert app.view is not None
            assert app.view.icount == app.tl.position == start + steps
            # (Without the wait for a pause: a view for nearly every step.)
            assert app.views_shown - views <= steps // 10

    asyncio.run(scenario())
    assert not errors, errors
    assert len(stops) == steps
    assert all(s.startswith(b"T05") for s in stops), stops[:3]
