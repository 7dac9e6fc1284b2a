"""The TUI's view symbolizes library code from the recording's files: disassembly labels,
the stack's return addresses and source lines inside a library, checked against nm."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import require_tool
from tests.integration.dynprogs import record_with_vanished_library
from ttdbg.backend.modules import loaded_modules
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import BreakpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols
from ttdbg.tui.view import ViewBuilder


def nm_names(path: str, offset: int) -> set[str]:
    """The dynamic symbols nm lists at `offset` in the library at `path`."""
    out = subprocess.run(
        [require_tool("nm"), "-D", "--defined-only", path], capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout  # fmt: skip
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and int(parts[0], 16) == offset:
            names.add(parts[2].split("@")[0])
    return names


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, Symbols, str]:
    tmp = tmp_path_factory.mktemp("dynsym")
    lib_copy = tmp / "libmine-copy.so"
    rec, _lib = record_with_vanished_library(tmp, lib_copy)
    recording = open_recording(str(rec))
    return (
        Timeline(recording),
        Symbols(recording.program_image, recording.program.load_bias),
        str(lib_copy),
    )


def test_library_code_is_symbolized(timeline: tuple[Timeline, Symbols, str]) -> None:
    tl, symbols, lib_copy = timeline
    builder = ViewBuilder(tl, symbols)
    tl.seek(tl.end)
    builder.build(None)  # every library is loaded by now
    puts = symbols.resolve("puts")
    lib_add = symbols.resolve("lib_add")
    assert puts is not None
    assert lib_add is not None
    tl.seek(0)
    tl.add_breakpoint(lib_add)
    assert isinstance(tl.continue_(), BreakpointHit)
    view = builder.build(None)
    here = next(line for line in view.disasm if line.is_pc)
    assert here.label == "lib_add"
    bias = next(m[2] for m in _modules(tl) if m[0].endswith("/libmine.so"))
    assert "lib_add" in nm_names(lib_copy, lib_add - bias)
    assert view.source is not None
    assert view.source.path.endswith("libmine.so.c")  # from the library's own DWARF
    # The return address on the stack is described as a place in main.
    assert any(label.startswith("main+") for _a, _w, label in view.stack)
    tl.remove_breakpoint(lib_add)
    tl.add_breakpoint(puts)
    assert isinstance(tl.continue_(), BreakpointHit)
    view = builder.build(None)
    here = next(line for line in view.disasm if line.is_pc)
    libc = next(p for p in tl.recording.files.paths if p.endswith("libc.so.6"))
    libc_bias = next(m[2] for m in _modules(tl) if m[0] == libc)
    assert here.label in nm_names(libc, puts - libc_bias)
    assert any(label.startswith("main+") for _a, _w, label in view.stack)


def _modules(tl: Timeline) -> list[tuple[str, bytes, int]]:
    return loaded_modules(tl.proc.platform, tl.recording.files)
