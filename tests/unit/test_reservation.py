"""A load reservation (lr/sc, ldxr/stxr) travels with a restored state: restoring a state
taken between the load and its store-conditional makes the store do what it did forwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.guest_programs import build
from tests.unit.test_timeline import fingerprint, forward_fingerprint
from ttdbg.backend.arch import Arch
from ttdbg.backend.arch.aarch64 import ARCH as AARCH64
from ttdbg.backend.arch.armv7m import ARCH as ARMV7M
from ttdbg.backend.arch.riscv64 import ARCH as RISCV64
from ttdbg.backend.machine import Machine
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.reservation import PREFIX, _layout
from ttdbg.backend.stops import BreakpointHit
from ttdbg.backend.timeline import Timeline


@pytest.mark.parametrize("arch", [RISCV64, AARCH64, ARMV7M], ids=lambda a: a.name)
def test_calibration_finds_the_fields_and_a_store_conditional_obeys_them(arch: Arch) -> None:
    # The calibration's own check: with the fields written back the store succeeds, with
    # them cleared it is refused; a layout comes back only when both held.
    probe = arch.reservation
    assert probe is not None
    layout = _layout(arch)
    assert layout is not None
    assert len(set(layout)) == len(probe.fields)


@pytest.mark.parametrize("arch", [RISCV64, AARCH64], ids=lambda a: a.name)
def test_a_written_reservation_decides_the_store_conditional(arch: Arch) -> None:
    probe = arch.reservation
    assert probe is not None
    m = Machine(arch)
    code, addr = 0x10000, 0x40100
    m.uc.mem_map(code, 0x1000, 5)
    m.uc.mem_write(code, probe.load + probe.store)
    m.uc.mem_map(addr & ~0xFFF, 0x1000)

    def store_conditional() -> int:
        m.set_reg(probe.address, addr)
        m.set_reg(probe.status, 7)
        m.set_reg(arch.pc, code + 4 + arch.start_bit)
        m.run(1)
        return m.reg(probe.status)

    assert m.reservation.read() == {}
    m.set_reg(probe.address, addr)
    m.set_reg(arch.pc, code + arch.start_bit)
    m.run(1)
    held = m.reservation.read()
    assert held[PREFIX + "addr"] == addr
    m.reservation.clear()
    assert m.reservation.read() == {}
    assert store_conditional() == 1  # refused: nothing reserved
    m.reservation.write({"pc": 0, **held})
    assert m.reservation.read() == held
    assert store_conditional() == 0  # stored: the written reservation is the CPU's again
    assert m.reservation.read() == {}
    m.reservation.write(held)
    m.reservation.write({"pc": 0})  # a state naming no reservation (older recordings too)
    assert store_conditional() == 1


def after_lr(program: Path) -> int:
    with program.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return int(symtab.get_symbol_by_name("after_lr")[0]["st_value"])


@pytest.mark.parametrize("arch", ["riscv64", "aarch64"])
def test_restoring_a_state_inside_an_lr_sc_loop_equals_a_forward_run(
    arch: str, tmp_path: Path
) -> None:
    program = build("lrsc", arch)
    path = tmp_path / "lrsc.ttrec"
    Recorder(str(program), [b"lrsc"], [], str(path), snapshot_every=2000).run()
    rec = open_recording(str(path))
    tl = Timeline(rec)
    tl.add_breakpoint(after_lr(program))
    for _ in range(3):  # the third add: well inside main
        assert isinstance(tl.continue_(), BreakpointHit)
    inside = tl.position
    tl.remove_breakpoint(after_lr(program))
    held = {k: v for k, v in tl.proc.capture(0).registers.items() if k.startswith(PREFIX)}
    assert held[PREFIX + "addr"] == held[PREFIX + "addr"] & ~7 != 0
    assert fingerprint(rec, tl) == forward_fingerprint(rec, inside)
    # Run to the end (its last store-conditional leaves no reservation), come back to the
    # state inside the loop and run through the store: the same path as forwards.
    end = rec.last_known_icount
    for target in (end, inside, inside + 3, end, inside + 40, inside - 1, inside + 3):
        tl.seek(target)
        assert fingerprint(rec, tl) == forward_fingerprint(rec, target), target
    tl.seek(inside)
    tl.step(3)
    assert fingerprint(rec, tl) == forward_fingerprint(rec, inside + 3)
    # Past the store nothing is held: the state says so by naming no reservation.
    assert not any(k.startswith(PREFIX) for k in tl.proc.capture(0).registers)
