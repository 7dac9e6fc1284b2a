"""Line steps range-step (a continue to the ways out of the line) and land exactly where
stepping one instruction at a time lands."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SAMPLES
from ttdbg.backend.linestep import LineStepper
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stepping import Stepper
from ttdbg.backend.stops import Stop
from ttdbg.backend.timeline import Timeline, TimelineError
from ttdbg.symbols import Symbols

REC = open_recording(str(SAMPLES / "walk.ttrec"))


class OneByOne(LineStepper):
    """The oracle: never range-steps, so every instruction is looked at."""

    def exits(self, pc: int) -> frozenset[int] | None:
        return None

    def entries(self, pc: int) -> frozenset[int] | None:
        return None


def _outcome(stepper: LineStepper, move: str) -> tuple[type, object]:
    try:
        stop = getattr(stepper, move)()
    except TimelineError as err:
        return TimelineError, str(err)
    return type(stop), stop.icount


def _stepper(kind: type[LineStepper]) -> tuple[Counted, LineStepper]:
    tl = Counted(REC)
    symbols = Symbols(REC.program_image, REC.program.load_bias)
    return tl, kind(tl, Stepper(tl, symbols), symbols)


def _line_starts(tl: Timeline, symbols: Symbols, every: int) -> list[int]:
    """Positions in the program's own code (with line info), after main's start."""
    tl.add_breakpoint(symbols.by_name["main"].addr)
    first = tl.continue_().icount
    tl.remove_breakpoint(symbols.by_name["main"].addr)
    found = []
    # (Not main's opening line: stepping back from it runs through libc's start, which has
    # no line info, one instruction at a time either way.)
    for icount in range(first + every, tl.end, every):
        tl.seek(icount)
        if symbols.line_for(tl.pc) is not None:
            found.append(icount)
    return found


class Counted(Timeline):
    """A timeline that counts its single-instruction moves."""

    singles = 0

    def step(self, n: int = 1, *args: Any) -> Stop:
        self.singles += 1
        return super().step(n, *args)

    def reverse_step(self, n: int = 1, *args: Any) -> Stop:
        self.singles += 1
        return super().reverse_step(n, *args)


@pytest.mark.parametrize("move", ["step", "next", "until", "reverse_step", "reverse_next"])
def test_line_moves_land_where_single_steps_land(move: str) -> None:
    tl, ranged = _stepper(LineStepper)
    oracle_tl, oracle = _stepper(OneByOne)
    starts = _line_starts(oracle_tl, oracle.symbols, 61)
    assert len(starts) > 15
    oracle_tl.singles = tl.singles = 0
    for start in starts:
        tl.seek(start)
        oracle_tl.seek(start)
        for _ in range(3):  # a few moves in a row from there
            got, want = _outcome(ranged, move), _outcome(oracle, move)
            assert got == want, (move, start)
            assert tl.position == oracle_tl.position
            if got[0] is TimelineError:
                break  # out of the program's lines (into libc's start): both refuse
    # Range stepping took fewer single instructions than stepping one by one (far fewer
    # forwards, where every instruction up to a branch is skipped).
    assert tl.singles * (1 if move.startswith("reverse") else 2) < oracle_tl.singles


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
