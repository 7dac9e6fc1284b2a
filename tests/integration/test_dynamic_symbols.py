"""The TUI's view symbolizes library code from the recording's files: disassembly labels,
the stack's return addresses, source lines inside a library and call targets (PLT entries
included), checked against nm and objdump."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.integration.dynprogs import (
    LIBRARY,
    USES_LIBRARY,
    compile_source,
    record_with_vanished_library,
)
from ttdbg.backend.modules import loaded_modules
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import BreakpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols
from ttdbg.tui.view import DisasmLine, ViewBuilder


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


def test_labels_follow_the_loaded_libraries(timeline: tuple[Timeline, Symbols, str]) -> None:
    """gdb's label of a library address (kept by Symbols once looked up) is there while the
    library is loaded and gone before it is: set_libraries drops the kept labels."""
    tl, symbols, _lib_copy = timeline
    builder = ViewBuilder(tl, symbols)
    tl.seek(tl.end)
    builder.build(None)  # every library is loaded by now
    lib_add = symbols.resolve("lib_add")
    assert lib_add is not None
    assert symbols.describe_within(lib_add) == "lib_add"
    tl.seek(0)
    builder.build(None)  # before the dynamic loader has mapped any library
    assert symbols.describe_within(lib_add) == ""
    tl.seek(tl.end)
    builder.build(None)
    assert symbols.describe_within(lib_add + 4) == "lib_add+4"
    assert symbols.describe_within(lib_add) == "lib_add"


CALLS = ("call", "bl", "jal")


def objdump_call_targets(
    path: Path, start: int, stop: int, objdump: str = "objdump"
) -> dict[int, str]:
    """{address: target label} of the direct calls objdump finds in [start, stop) of the
    file at `path`, with offsets in decimal as the TUI (and gdb) write them."""
    out = subprocess.run(
        [require_tool(objdump), "-d", f"--start-address={start:#x}",
         f"--stop-address={stop:#x}", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    targets = {}
    call = re.compile(
        rf"^\s*([0-9a-f]+):.*\s(?:{'|'.join(CALLS)})\s+[0-9a-f]+ <(.+?)(?:\+0x([0-9a-f]+))?>$", re.M
    )
    for m in call.finditer(out):
        offset = int(m.group(3), 16) if m.group(3) else 0
        targets[int(m.group(1), 16)] = f"{m.group(2)}+{offset}" if offset else m.group(2)
    return targets


def test_call_targets_are_named_as_objdump_names_them(
    timeline: tuple[Timeline, Symbols, str], tmp_path: Path
) -> None:
    """Calls in the program, in its library and in libc, PLT entries (`lib_add@plt`) as
    objdump synthesizes them from the relocations: read from the recording's own files."""
    tl, symbols, _lib_copy = timeline
    builder = ViewBuilder(tl, symbols)
    tl.seek(tl.end)
    builder.build(None)  # every library is loaded by now
    modules = {"": (tl.recording.program_image, tl.recording.program.load_bias)}
    modules.update({path: (image, bias) for path, image, bias in _modules(tl)})
    plt_calls = set()
    for function, module in (("main", ""), ("lib_hello", "/libmine.so"), ("puts", "/libc.so.6")):
        image, bias = next(v for k, v in modules.items() if k.endswith(module))
        stored = tmp_path / f"{function}.elf"
        stored.write_bytes(image)  # the recording's copy: the library's directory is gone
        start = symbols.resolve(function)
        assert start is not None
        lines = builder.disassemble(start, 0, 60)
        expected = objdump_call_targets(stored, start - bias, lines[-1].addr - bias)
        ours = view_call_targets(lines, bias)
        assert expected, function
        assert ours == expected, function
        plt_calls |= {name for name in ours.values() if name.endswith("@plt")}
    assert {"lib_hello@plt", "lib_add@plt", "printf@plt", "puts@plt"} <= plt_calls, plt_calls


def _modules(tl: Timeline) -> list[tuple[str, bytes, int]]:
    return loaded_modules(tl.proc.platform, tl.recording.files)


def view_call_targets(lines: Sequence[DisasmLine], bias: int) -> dict[int, str]:
    """{address in the file: target label} of the calls the disassembly pane shows."""
    return {
        line.addr - bias: m.group(1)
        for line in lines
        if line.text.split()[0] in CALLS and (m := re.search(r"<(.+)>$", line.text))
    }


OBJDUMPS = {"x86_64": "objdump", "aarch64": "aarch64-linux-gnu-objdump",
            "riscv64": "riscv64-linux-gnu-objdump"}  # fmt: skip


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_plt_entries_named_on_every_architecture(arch: str, tmp_path: Path) -> None:
    """Every `name@plt` objdump labels a call with, in a program and in a library of each
    architecture (PIE and not), is what the symbols say is at that address."""
    lib = compile_source(tmp_path, "libmine.so", LIBRARY, "-shared", "-fPIC", arch=arch)
    checked = 0
    for path in (
        lib,
        compile_source(tmp_path, "pie", USES_LIBRARY, "-pie", str(lib), arch=arch),
        compile_source(tmp_path, "fixed", USES_LIBRARY, "-no-pie", str(lib), arch=arch),
    ):
        out = subprocess.run(
            [require_tool(OBJDUMPS[arch]), "-d", str(path)], capture_output=True, text=True,
            timeout=60, check=True,
        ).stdout  # fmt: skip
        symbols = Symbols(path.read_bytes())
        for m in re.finditer(r"\s(?:call|bl|jal)\s+([0-9a-f]+) <(\S+@plt)>", out):
            assert symbols.describe(int(m.group(1), 16)) == m.group(2), (path.name, m.group(0))
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_call_targets_on_other_architectures(arch: str, tmp_path: Path) -> None:
    """The disassembly pane's call targets in the program and its library on AArch64 and
    RISC-V (whose capstone text gives offsets from the instruction, not addresses), as the
    cross objdump labels them."""
    rec, _lib = record_with_vanished_library(tmp_path, arch=arch)
    recording = open_recording(str(rec))
    tl = Timeline(recording)
    symbols = Symbols(recording.program_image, recording.program.load_bias)
    builder = ViewBuilder(tl, symbols)
    tl.seek(tl.end)
    builder.build(None)
    modules = {"": (recording.program_image, recording.program.load_bias)}
    modules.update({path: (image, bias) for path, image, bias in _modules(tl)})
    for function, module, calls in (
        ("main", "", {"lib_hello@plt", "lib_add@plt", "printf@plt", "puts@plt"}),
        ("lib_hello", "/libmine.so", {"printf@plt"}),
    ):
        image, bias = next(v for k, v in modules.items() if k.endswith(module))
        stored = tmp_path / f"{function}.elf"
        stored.write_bytes(image)
        start = symbols.resolve(function)
        assert start is not None
        lines = builder.disassemble(start, 0, 50)
        expected = objdump_call_targets(stored, start - bias, lines[-1].addr - bias, OBJDUMPS[arch])
        assert view_call_targets(lines, bias) == expected, function
        assert calls <= set(expected.values()), expected
