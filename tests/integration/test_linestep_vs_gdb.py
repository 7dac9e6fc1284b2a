"""`next` and `reverse-next` of the TUI's line stepper against gdb's on the native program: a
call whose return lands on the same line (a loop line, two calls in one expression) is
stepped over as gdb steps over it, and ends as a step, not at a breakpoint."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import require_tool, run_ttdbg
from ttdbg.backend.linestep import LineStepper
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stepping import Stepper
from ttdbg.backend.stops import Reached
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols

LOOP_C = r"""
#include <stdio.h>
static int square(int x) { return x * x; }
int main(void) {
    int total = 0;
    for (int i = 0; i < 5; i++) total += square(i);
    total += square(2) + square(3);
    printf("%d\n", total);
    return 0;
}
"""
NEXTS = 4


def _native_nexts(prog: Path) -> tuple[int, list[int]]:
    """gdb's breakpoint address for `break main` and the pc after each `next`, natively."""
    gdb = require_tool("gdb")
    steps = [arg for _ in range(NEXTS) for arg in ("-ex", "next", "-ex", "p/x $pc")]
    out = subprocess.run(
        [gdb, "-nx", "-batch", "-ex", "break main", "-ex", "run", *steps, str(prog)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r"Breakpoint 1 at (0x[0-9a-f]+)", out)
    assert found, out
    pcs = [int(pc, 16) for pc in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M)]
    assert len(pcs) == NEXTS, out
    return int(found.group(1), 16), pcs


def test_next_steps_over_calls_on_a_loop_line_as_gdb_does(tmp_path: Path) -> None:
    source = tmp_path / "loop.c"
    source.write_text(LOOP_C)
    prog = tmp_path / "loop"
    cc = require_tool("gcc")
    subprocess.run(
        [cc, "-g", "-O0", "-no-pie", "-o", str(prog), str(source)], check=True, timeout=120
    )
    breakpoint_at, native = _native_nexts(prog)
    rec_path = tmp_path / "loop.ttrec"
    assert run_ttdbg(["record", "-o", str(rec_path), "--", str(prog)], timeout=300).returncode == 0
    rec = open_recording(str(rec_path))
    tl = Timeline(rec)
    symbols = Symbols(rec.program_image, rec.program.load_bias)
    lines = LineStepper(tl, Stepper(tl, symbols), symbols)
    tl.add_breakpoint(breakpoint_at)
    start = tl.continue_().icount
    tl.remove_breakpoint(breakpoint_at)
    positions = [start]
    for pc in native:
        stop = lines.next()
        assert isinstance(stop, Reached), stop.describe()
        assert tl.pc == pc
        positions.append(tl.position)
    # reverse-next comes back through the same line starts, one by one.
    for icount in reversed(positions[:-1]):
        stop = lines.reverse_next()
        assert isinstance(stop, Reached), stop.describe()
        assert tl.position == icount
