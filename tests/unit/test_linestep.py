"""Line steps range-step (a continue to the ways out of the line) and land exactly where
stepping one instruction at a time lands."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from ttdbg.backend.linestep import LineStepper
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stepping import Stepper
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols

REC = open_recording(str(SAMPLES / "walk.ttrec"))


class OneByOne(LineStepper):
    """The oracle: never range-steps, so every instruction is looked at."""

    def exits(self, pc: int) -> frozenset[int] | None:
        return None


def _stepper(kind: type[LineStepper]) -> tuple[Timeline, LineStepper]:
    tl = Timeline(REC)
    symbols = Symbols(REC.program_image, REC.program.load_bias)
    return tl, kind(tl, Stepper(tl, symbols), symbols)


def _line_starts(tl: Timeline, symbols: Symbols, every: int) -> list[int]:
    """Positions in the program's own code (with line info), from main on."""
    tl.add_breakpoint(symbols.by_name["main"].addr)
    first = tl.continue_().icount
    tl.remove_breakpoint(symbols.by_name["main"].addr)
    found = []
    for icount in range(first, tl.end, every):
        tl.seek(icount)
        if symbols.line_for(tl.pc) is not None:
            found.append(icount)
    return found


@pytest.mark.parametrize("move", ["step", "next", "until"])
def test_line_moves_land_where_single_steps_land(move: str) -> None:
    tl, ranged = _stepper(LineStepper)
    oracle_tl, oracle = _stepper(OneByOne)
    single_steps = 0
    counted = tl.step

    def counting(n: int = 1, *args: object) -> object:
        nonlocal single_steps
        single_steps += 1
        return counted(n, *args)  # type: ignore[arg-type]

    starts = _line_starts(oracle_tl, oracle.symbols, 41)
    assert len(starts) > 25
    tl.step = counting  # type: ignore[method-assign]
    oracle_steps = 0
    for start in starts:
        tl.seek(start)
        oracle_tl.seek(start)
        for _ in range(3):  # a few moves in a row from there
            got = getattr(ranged, move)()
            want = getattr(oracle, move)()
            assert (type(got), got.icount) == (type(want), want.icount), (move, start)
            assert tl.position == oracle_tl.position
            oracle_steps += 1
    # The ranged steps took far fewer single instructions than the moves they made.
    assert single_steps < oracle_steps * 4


def test_the_ways_out_of_a_line_are_its_branches_and_its_end() -> None:
    _tl, ranged = _stepper(LineStepper)
    symbols = ranged.symbols
    loop = symbols.address_of_line("walk.c", 23)  # for (int round = 0; round < 40; round++)
    assert loop is not None
    span = symbols.line_range(loop)
    assert span is not None
    exits = ranged.exits(loop)
    assert exits is not None
    assert span[1] in exits
    assert all(span[0] <= a <= span[1] for a in exits)
