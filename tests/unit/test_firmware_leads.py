"""A firmware recording keeps states shortly before each snapshot (the end above all), so
reverse debugging from there starts close by; those states are exact (replay verifies them)
and reverse-continue from the end lands where a forward bisection finds the last write."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.forward_replay import forward
from ttdbg.backend.inputs import ReplayInputs
from ttdbg.backend.machines import machine_spec
from ttdbg.backend.machines.recorder import FirmwareRecorder
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import replay
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "sample_traces" / "firmware" / "riscv-virt" / "fw.elf"
EVERY, END = 80_000, 100_000
QUANTUM = FirmwareRecorder.run_quantum


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leads") / "fw.ttrec"
    FirmwareRecorder(
        str(FW), machine_spec("virt", "riscv64", None, None), str(out), None,
        console=lambda fd, data: None, snapshot_every=EVERY, max_insns=END,
    ).run()  # fmt: skip
    return out


def ticks_symbol() -> tuple[int, int]:
    with open(FW, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("ticks")[0]
        return int(sym["st_value"]), int(sym["st_size"])


def test_snapshots_come_with_states_just_before_them(recording: Path) -> None:
    # The record loop stops every QUANTUM (4096) instructions after each snapshot; a
    # snapshot comes with the last stop before it, the last one at least 16K back and the
    # last one at least 64K back (those after the previous snapshot).
    assert QUANTUM == 4096
    icounts = open_recording(str(recording)).snapshots.icounts
    assert icounts == [0, 12_288, 61_440, 77_824, EVERY, EVERY + 16_384, END]
    result = replay(open_recording(str(recording)), verify=True)
    assert result.verified == len(icounts)


def test_reverse_continue_from_the_end_lands_on_the_last_write(recording: Path) -> None:
    addr, size = ticks_symbol()
    timeline = Timeline(open_recording(str(recording)))
    timeline.seek(timeline.end)
    timeline.add_watchpoint("write", addr, size)
    stop = timeline.reverse_continue()
    assert isinstance(stop, WatchpointHit)

    # The oracle: the tick counter only grows, so its last write is where it first holds
    # its final value (the store retires just before that icount). Two replays forward from
    # reset (no seek, no restore): one in strides finds the last stride before that, the
    # other steps through it.
    def ticks(proc: GuestProcess[ReplayInputs]) -> int:
        return int.from_bytes(proc.machine.read(addr, size), "little")

    end = timeline.end
    strides = forward(recording, 0)
    seen = []  # (icount, ticks there) at each stride's start
    while strides.machine.icount < end:
        seen.append((strides.machine.icount, ticks(strides)))
        strides.run(min(QUANTUM, end - strides.machine.icount))
    final = ticks(strides)
    before_final = max(icount for icount, value in seen if value != final)
    steps = forward(recording, before_final)
    pc_before = steps.machine.pc
    for _ in range(QUANTUM):  # bounded: a value that never comes fails, not hangs
        if ticks(steps) == final:
            break
        pc_before = steps.machine.pc
        steps.run(1)
    assert ticks(steps) == final
    lo = steps.machine.icount
    assert before_final < lo <= before_final + QUANTUM
    # RISC-V watchpoints are not steppable: going back, gdb's convention stops just after
    # the store (instruction lo - 1), with the value it wrote in memory.
    assert stop.icount == timeline.position == lo
    assert int.from_bytes(stop.new, "little") == final
    assert int.from_bytes(stop.old, "little") == final - 1
    assert stop.pc == pc_before
    assert timeline.machine.registers() == steps.machine.registers()
