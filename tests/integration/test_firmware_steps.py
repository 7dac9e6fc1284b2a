"""Single steps on the firmware machines: the state at an icount is the same however a run
got there (a wfi that a one-instruction run stops in front of skips virtual time once, when
it runs), and one-instruction runs visit the (icount, pc) a forward run executes, in order
(a step on a wfi an interrupt wakes lands in the handler, as QEMU's stepi does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import unicorn
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tests.conftest import SAMPLES, run_ttdbg
from tests.integration.test_firmware_interrupts import brute_force_entries
from ttdbg.backend.machines.platform import FirmwarePlatform
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.runoutcome import Why

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


@pytest.fixture(scope="module")
def riscv_idle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RISC-V sample with its serial input closed: it waits in wfi for each timer tick
    (the sample recording gets its input at once and never waits)."""
    rec = tmp_path_factory.mktemp("steps") / "fw.ttrec"
    elf = FIRMWARE / "riscv-virt" / "fw.elf"
    made = run_ttdbg(["record", "--machine", "virt", "--max-insns", str(RISCV_INSNS),
                      "-o", str(rec), str(elf)])  # fmt: skip
    assert made.returncode == 0, made.stderr
    return rec


RISCV_INSNS = 1500


@pytest.fixture(params=["aarch64-virt", "cortex-m", "riscv-virt"])
def recording(request: pytest.FixtureRequest) -> Path:
    board = str(request.param)
    if board == "riscv-virt":
        return Path(request.getfixturevalue("riscv_idle"))
    return FIRMWARE / board / "fw.ttrec"


@pytest.mark.timeout(300)  # a step that never ends fails here, not at the suite's limit
def test_single_steps_reach_the_state_one_run_does(recording: Path) -> None:
    path = recording
    # Timer interrupts wake the firmware from wfi: step through the wfi before each of the
    # first entries (the machine then skips virtual time to the timer's deadline).
    entries = brute_force_entries(path)[:4]
    assert len(entries) == 4  # else the loop below would check nothing
    for entry, _number in entries:
        start = max(0, entry - BEFORE)
        steps = entry + 20 - start
        assert state_after(str(path), [start, *[1] * steps]) == state_after(
            str(path), [start + steps]
        )


def executed(path: Path) -> list[tuple[int, int]]:
    """(icount, pc) of every instruction one forward run executes (the brute-force oracle)."""
    proc = new_replay_process(open_recording(str(path)))
    m = proc.machine
    seen: list[tuple[int, int]] = []

    def hook(_uc: unicorn.Uc, addr: int, _size: int, _data: object) -> None:
        seen.append((m.icount_at(addr), addr))

    m.uc.hook_add(unicorn.UC_HOOK_CODE, hook)
    ran = proc.run(RISCV_INSNS)
    assert not ran.failed, ran.error
    return seen


@pytest.mark.timeout(300)
def test_riscv_single_steps_visit_what_one_run_executes(riscv_idle: Path) -> None:
    forward = executed(riscv_idle)
    entries = [icount for icount, _ in brute_force_entries(riscv_idle)]
    wfis = wfi_addresses(FIRMWARE / "riscv-virt" / "fw.elf")
    assert wfis  # the idle loop's
    wfi_entries = [e for e in entries if forward[e - 1][1] in wfis]
    assert len(wfi_entries) >= 5  # the steps cross wfis that timer interrupts wake
    proc = new_replay_process(open_recording(str(riscv_idle)))
    m = proc.machine
    stepped: list[tuple[int, int]] = []
    for _ in range(len(forward)):  # bounded: a step that does not move fails below
        if m.icount >= len(forward):
            break
        before = m.icount
        stepped.append((before, m.pc))
        ran = proc.run(1)
        assert not ran.failed, ran.error
        assert m.icount == before + 1, (before, hex(stepped[-1][1]), ran.why)
    assert stepped == forward


WFI = (0x10500073).to_bytes(4, "little")  # RISC-V wfi


def wfi_addresses(elf: Path) -> set[int]:
    """Where wfi is in `elf`'s code: found by its encoding, at any 2-byte boundary (the
    compressed extension's alignment), so a rebuild that moves the idle loop still finds it."""
    found = set()
    with elf.open("rb") as f:
        for section in ELFFile(f).iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                continue
            code, base = section.data(), section["sh_addr"]
            at = code.find(WFI)
            while at >= 0:
                if at % 2 == 0:
                    found.add(base + at)
                at = code.find(WFI, at + 1)
    return found


@pytest.mark.timeout(120)
def test_a_run_past_logged_serial_input_stops_with_a_divergence() -> None:
    # Replay must never spin on input it can no longer deliver (a step that once skipped an
    # icount looped forever here).
    path = FIRMWARE / "riscv-virt" / "fw.ttrec"
    proc = new_replay_process(open_recording(str(path)))
    proc.machine.icount += 1  # past the input logged at icount 0
    ran = proc.run(1)
    assert ran.failed
    assert ran.why == Why.DIVERGED
    assert "SERIAL at icount 0 with (0,), found a run past it" in str(ran.error)
