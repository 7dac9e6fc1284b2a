"""Line steps range-step (a continue to the ways out of the line) and land exactly where
stepping one instruction at a time lands."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.conftest import SAMPLES, require_tool
from ttdbg.backend.linestep import LineStepper
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
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

    def stepi(self, forward: bool = True, *args: Any) -> Stop:
        self.singles += 1
        return super().stepi(forward, *args)


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


SWITCH_C = r"""
volatile int sink;
static int classify(int n) {
    int r;
    switch (n % 9) {
    case 0: r = n * 3; break;
    case 1: r = n + 7; break;
    case 2: r = n - 1; sink = r; break;
    case 3: r = n ^ 5; break; case 4: r = n * n; break;
    case 5: r = -n; break;
    case 6: r = n / 3; break;
    case 7: r = n << 2; break;
    default: r = 42; break;
    }
    return r + sink;
}
int main(void) {
    long total = 0;
    for (int i = 0; i < 60; i++)
        total += classify(i);
    return (int)(total & 1);
}
"""


@pytest.fixture(scope="module")
def switch_recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A function whose switch jumps through a table (an indirect jump)."""
    gcc = require_tool("gcc")
    d = tmp_path_factory.mktemp("switch")
    (d / "switch.c").write_text(SWITCH_C)
    subprocess.run([gcc, "-g", "-O0", "-static", "-o", "switch", "switch.c"], cwd=d,
                   check=True, timeout=120)  # fmt: skip
    rec = d / "switch.ttrec"
    Recorder(str(d / "switch"), [b"switch"], [], str(rec), snapshot_every=2000).run()
    return open_recording(str(rec))


@pytest.mark.parametrize("move", ["reverse_step", "reverse_next"])
def test_reverse_line_moves_through_a_jump_table(switch_recording: Recording, move: str) -> None:
    """Backwards across a switch's indirect jump: where one-by-one steps land, in fewer
    single instructions (the jump is a breakpoint too, and its landing is looked at: case 4
    starts in the middle of its line, where no direct branch leads)."""
    rec = switch_recording
    symbols = Symbols(rec.program_image, rec.program.load_bias)
    tls = [Counted(rec), Counted(rec)]
    ranged = LineStepper(tls[0], Stepper(tls[0], symbols), symbols)
    oracle = OneByOne(tls[1], Stepper(tls[1], symbols), symbols)
    tail = SWITCH_C.splitlines().index("    return r + sink;") + 1
    entries = ranged.entries(symbols.address_of_line("switch.c", tail) or 0)
    assert entries is not None
    assert entries.jumps  # the switch's jmp *%rax
    classify = symbols.by_name["classify"]
    tl = tls[1]
    tl.add_breakpoint(classify.addr)
    for _ in range(7):
        tl.continue_()
    tl.remove_breakpoint(classify.addr)
    first = tl.position
    tls[0].singles = tls[1].singles = 0
    for start in range(first, first + 400, 23):
        for t in tls:
            t.seek(start)
        for _ in range(3):
            got, want = _outcome(ranged, move), _outcome(oracle, move)
            assert got == want, (move, start)
            assert tls[0].position == tls[1].position
    assert tls[0].singles < tls[1].singles
