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
