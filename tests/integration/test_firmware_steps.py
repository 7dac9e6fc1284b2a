"""Single steps on the firmware machines: the state at an icount is the same however a run
got there (a wfi that a one-instruction run stops in front of skips virtual time once, when
it runs)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.integration.test_firmware_interrupts import brute_force_entries
from ttdbg.backend.machines.platform import FirmwarePlatform
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process

FIRMWARE = SAMPLES / "firmware"
BEFORE = 200  # instructions stepped one at a time before an interrupt entry (and 20 after)


def state_after(path: str, runs: list[int]) -> dict[str, Any]:
    """Registers, device state and virtual time after runs of these lengths from icount 0."""
    proc = new_replay_process(open_recording(path))
    for n in runs:
        proc.run(n)
    platform = proc.platform
    assert isinstance(platform, FirmwarePlatform)
    return {
        "icount": proc.machine.icount,
        "registers": proc.machine.register_file.read(),
        "devices": platform.board.state(),
        "idle_ns": platform.clock.idle_ns,
    }


# (riscv-virt is left out: a single step on its wfi before an interrupt entry does not yet
# land where a run does.)
@pytest.mark.parametrize("board", ["aarch64-virt", "cortex-m"])
def test_single_steps_reach_the_state_one_run_does(board: str) -> None:
    path = FIRMWARE / board / "fw.ttrec"
    # Timer interrupts wake the firmware from wfi: step through the wfi before each of the
    # first entries (the machine then skips virtual time to the timer's deadline).
    for entry, _number in brute_force_entries(path)[:4]:
        start = max(0, entry - BEFORE)
        steps = entry + 20 - start
        assert state_after(str(path), [start, *[1] * steps]) == state_after(
            str(path), [start + steps]
        )
