"""A breakpoint on a library's code in the timeline, on each architecture: RELOADS loads
libtarget, unloads it, loads libother where it was and libtarget again elsewhere; continue and
reverse-continue stop at each call of target_fn and nowhere else, against a brute-force
replay (the TUI's test on x86-64 checks the stop's place against gdb on the native program)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_ttdbg
from tests.integration.dynprogs import build_reloads
from tests.integration.reloads import target_calls
from ttdbg.backend.codebreaks import file_offset
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import BeginningOfHistory, BreakpointHit, EndOfHistory
from ttdbg.backend.timeline import Timeline
from ttdbg.libraryfunctions import LibraryFunctions
from ttdbg.symbols import Symbols

ARCHES = ["x86_64", "aarch64", "riscv64"]


@pytest.mark.parametrize("arch", ARCHES)
def test_continue_both_ways_stops_at_each_load_of_the_library(arch: str, tmp_path: Path) -> None:
    argv = build_reloads(tmp_path, arch)
    rec = tmp_path / "reloads.ttrec"
    proc = run_ttdbg(["record", "-o", str(rec), "--", *argv], timeout=300)
    assert proc.returncode == 0, proc.stderr
    recording = open_recording(str(rec))
    tl = Timeline(recording)
    found = LibraryFunctions(tl.mapped_libraries, recording.files.get).find("target_fn")
    assert found is not None
    assert found.library == argv[1]
    image = recording.files.get(found.code.digest)
    assert image is not None
    entry = file_offset(image, Symbols(image).by_name["target_fn"].addr)
    assert entry is not None
    hits, _reused = target_calls(rec, found.code.offset - entry)

    bp = found.code
    tl.add_code_breakpoint(bp)
    assert tl.code_addresses(bp) == []  # at icount 0 not even libc is mapped
    for icount, pc in hits:
        stop = tl.continue_()
        assert isinstance(stop, BreakpointHit), stop
        assert (stop.icount, stop.address, tl.pc) == (icount, pc, pc)
        # Only the executable copy: a small library's data segment can show the same page.
        assert tl.code_addresses(bp) == [pc]
    assert isinstance(tl.continue_(), EndOfHistory)
    assert tl.code_addresses(bp) == []
    for icount, pc in reversed(hits):
        stop = tl.reverse_continue()
        assert isinstance(stop, BreakpointHit), stop
        assert (stop.icount, stop.address) == (icount, pc)
    assert isinstance(tl.reverse_continue(), BeginningOfHistory)
    tl.remove_code_breakpoint(bp)
    assert isinstance(tl.continue_(), EndOfHistory)  # nothing left to stop at
