"""The TUI on the three sample firmware recordings: the serial console, the interrupt lanes,
the peripherals pane and `:catch interrupt` each show what a brute-force forward replay from
icount 0 sees at the same position (and Linux recordings keep their own panes)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.integration.test_firmware_interrupts import brute_force_entries
from tests.tui.conftest import settle
from ttdbg.backend.machines.platform import FirmwarePlatform
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.runoutcome import Why
from ttdbg.backend.stops import InterruptEntered
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.marks import Marks
from ttdbg.tui.widgets.output import Output
from ttdbg.tui.widgets.peripherals import Peripherals
from ttdbg.tui.widgets.tabbar import TabBar
from ttdbg.tui.widgets.timeline import DENSITY, Timeline

FIRMWARE = SAMPLES / "firmware"
BOARDS = ["riscv-virt", "aarch64-virt", "cortex-m"]
JUMPS = 8  # interrupt entries visited with ] (all of them where there are fewer)
REGISTER_ROW = re.compile(r"^  (\S.*?) +([0-9a-f]{8}|[0-9a-f]{16}) (?:\d+)?$")


class ForwardReplay:
    """The oracle: a replay from icount 0 that only runs forwards (a position before the
    last one asked starts it again), with every serial byte the guest wrote."""

    def __init__(self, path: Path) -> None:
        self.rec = open_recording(str(path))
        self.serial = bytearray()
        self.proc = self._start()

    def _start(self) -> GuestProcess:  # type: ignore[type-arg]
        self.serial.clear()
        return new_replay_process(self.rec, lambda _fd, data: self.serial.extend(data))

    def at(self, icount: int) -> tuple[str, dict[str, dict[str, int]]]:
        """(serial text, each device's registers) at `icount`."""
        if icount < self.proc.machine.icount:
            self.proc = self._start()
        m = self.proc.machine
        while m.halted is None and m.icount < icount:
            ran = self.proc.run(icount - m.icount)
            assert not ran.failed, ran.error
            if ran.why == Why.END_OF_LOG:
                break
        assert m.icount == icount or m.halted is not None
        platform = self.proc.platform
        assert isinstance(platform, FirmwarePlatform)
        return self.serial.decode("utf-8", "replace"), platform.board.peripherals()


def pane_registers(pane: Peripherals) -> tuple[dict[str, dict[str, int]], set[str]]:
    """The pane's devices and register values as shown (hex), and the lit registers."""
    shown: dict[str, dict[str, int]] = {}
    lit: set[str] = set()
    device = ""
    for row in pane.rows:
        if not row.plain.startswith("  "):
            device = row.plain.split(" @ ")[0].split(" (")[0]
            shown[device] = {}
            continue
        found = REGISTER_ROW.match(row.plain)
        assert found is not None, row.plain
        name, hex_value = found.groups()
        shown[device][name] = int(hex_value, 16)
        if any(str(span.style) == "bold yellow" for span in row.spans):
            lit.add(f"{device}.{name}")
    return shown, lit


def serial_rows(text: str, exit_text: str) -> list[str]:
    return (text.splitlines() or ["(nothing yet)"]) + ([exit_text] if exit_text else [])


@pytest.mark.parametrize("board", BOARDS)
def test_panes_equal_a_forward_replay_at_each_interrupt_entry(board: str) -> None:
    path = FIRMWARE / board / "fw.ttrec"
    truth = brute_force_entries(path)
    oracle = ForwardReplay(path)

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(path), restore=False), fill_checkpoints=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            timeline = app.query_one(Timeline)
            # One lane per source, holding exactly the entries the forward replay saw.
            lanes = {n: [i for i, m in truth if m == n] for n in sorted({m for _i, m in truth})}
            assert [icounts for _label, icounts in timeline.interrupt_lanes] == list(lanes.values())
            for row, (_label, icounts) in enumerate(timeline.interrupt_lanes):
                drawn = timeline.render_line(2 + row).text
                # The whole recording is in view: every entry has its column, marked.
                columns = [timeline.column(icount) for icount in icounts]
                assert None not in columns
                marked = {c for c in columns if c is not None}
                assert all(drawn[x] in DENSITY[1:] for x in marked)
                assert all(drawn[x] not in DENSITY[1:] for x in set(range(len(drawn))) - marked)

            visited = truth[:JUMPS]
            before = oracle.at(0)[1]
            for icount, number in [*visited, *visited[-2::-1]]:
                forward = icount > app.position
                await pilot.press("right_square_bracket" if forward else "left_square_bracket")
                await settle(pilot, app)
                assert app.position == icount
                assert isinstance(app.last_stop, InterruptEntered)
                assert app.last_stop.number == number
                text, registers = oracle.at(icount)
                await pilot.press("8")
                assert [r.plain for r in app.query_one(Output).rows] == serial_rows(text, "")
                await pilot.press("p")
                shown, lit = pane_registers(app.query_one(Peripherals))
                assert shown == {name: regs for name, regs in registers.items() if regs}
                changed = {
                    f"{dev}.{reg}"
                    for dev, regs in registers.items()
                    for reg, value in regs.items()
                    if before[dev][reg] != value
                }
                assert lit == changed
                before = registers

            # Seeks and a reverse step, away from entries: the end, then back into the middle.
            for keys in (["g", *"100%", "enter"], ["g", *str(truth[-1][0] + 3), "enter"], ["I"]):
                await pilot.press(*keys)
                await settle(pilot, app)
                text, registers = oracle.at(app.position)
                await pilot.press("8")
                exit_text = app.view.exit_text if app.view else ""
                assert [r.plain for r in app.query_one(Output).rows] == serial_rows(text, exit_text)
                await pilot.press("p")
                assert pane_registers(app.query_one(Peripherals))[0] == {
                    name: regs for name, regs in registers.items() if regs
                }
            assert app.position == truth[-1][0] + 2  # the reverse step took it back

    asyncio.run(scenario())


def test_catch_interrupt_stops_continues_at_its_entries() -> None:
    path = FIRMWARE / "aarch64-virt" / "fw.ttrec"
    truth = brute_force_entries(path)
    number = truth[-1][1]
    mine = [i for i, n in truth if n == number]

    async def scenario() -> None:
        app = TtdbgApp(open_session(str(path), restore=False), fill_checkpoints=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *f"catch interrupt {number}", "enter")
            await settle(pilot, app)
            await pilot.press("7")
            assert any("catch interrupt: IRQ" in r.plain for r in app.query_one(Marks).rows)
            seen = []
            for _ in range(3):
                await pilot.press("c")
                await settle(pilot, app)
                seen.append(app.position)
            assert seen == mine[:3]
            await pilot.press("C")
            await settle(pilot, app)
            assert app.position == mine[1]
            await pilot.press("colon", *"catch interrupt off", "enter")
            await settle(pilot, app)
            await pilot.press("c")
            await settle(pilot, app)
            assert app.position == app.tl.end
            assert not any("catch" in r.plain for r in app.query_one(Marks).rows)
            await pilot.press("colon", *"catch signal", "enter")  # only interrupts are caught
            await settle(pilot, app)
            assert app.tl.interrupt_catch is None

    asyncio.run(scenario())


def test_linux_recordings_keep_their_panes() -> None:
    async def scenario() -> None:
        app = TtdbgApp(open_session(str(SAMPLES / "walk.ttrec"), restore=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            tabs = [t.label for t in app.query_one(TabBar).tabs]
            assert tabs == ["memory", "stack", "events", "marks", "output", "bt", "locals",
                            "threads"]  # fmt: skip
            timeline = app.query_one(Timeline)
            assert timeline.interrupt_lanes == []
            assert timeline.size.height == 3
            await pilot.press("p", "right_square_bracket")  # no such pane, no interrupts
            await pilot.press("colon", *"catch interrupt", "enter")
            await settle(pilot, app)
            assert app.position == 0
            assert app.tl.interrupt_catch is None
            assert not app.query(Peripherals)
            assert app.query_one(Output).border_title == "program output"

    asyncio.run(scenario())


def test_firmware_recording_steps_forward_and_back() -> None:
    async def scenario() -> list[int]:
        rec = FIRMWARE / "riscv-virt" / "fw.ttrec"
        app = TtdbgApp(open_session(str(rec), restore=False))
        seen = []
        async with app.run_test(size=(160, 48)) as pilot:
            for key in ("s", "s", "s", "S"):
                await pilot.press(key)
                await settle(pilot, app)
                seen.append(app.tl.position)
        return seen

    first, second, third, back = asyncio.run(scenario())
    assert 0 < first < second < third
    assert back == second  # a step back undoes the last step
