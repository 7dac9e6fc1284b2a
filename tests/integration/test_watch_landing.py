"""A forward watchpoint stopped inside the accessing instruction (a `rep` iteration, a call's
push) lands on the state a plain forward replay has right after it: registers and memory
equal a fresh seek to the same icount, at every write of the program's string instructions."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_ttdbg
from tests.guest_programs import build
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols


def test_forward_watch_landings_equal_a_fresh_replay(tmp_path: Path) -> None:
    program, path = build("repstring", "x86_64"), tmp_path / "rep.ttrec"
    out = run_ttdbg(["record", "-o", str(path), "--", str(program)])
    assert out.returncode == 0, out.stderr
    rec = open_recording(str(path))
    syms = Symbols(rec.program_image, rec.program.load_bias)
    dst, fill = syms.by_name["dst"].addr, syms.by_name["fill"].addr
    main = syms.by_name["main"].addr
    fresh = Timeline(open_recording(str(path)))
    landings = 0
    for addr, length in [*((dst + k, 1) for k in (0, 1, 10, 39)), (fill + 2, 1), (fill + 56, 8)]:
        tl = Timeline(open_recording(str(path)))
        tl.add_breakpoint(main)
        tl.continue_()
        tl.remove_breakpoint(main)
        tl.add_watchpoint("write", addr, length)
        stop = tl.continue_()
        assert isinstance(stop, WatchpointHit), (hex(addr), stop)
        fresh.seek(stop.icount)
        assert tl.registers() == fresh.registers(), hex(addr)
        assert tl.read_memory(dst, 128) == fresh.read_memory(dst, 128)
        # The instruction ran once: going on from here replays exactly as the recording did.
        assert tl.step(50) == fresh.step(50)
        assert tl.registers() == fresh.registers()
        landings += 1
    assert landings == 6
