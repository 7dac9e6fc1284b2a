"""Debug info is untrusted: lines match addr2line, source paths are opened safely, and mutated
ELF files never crash the symbol reader."""

from __future__ import annotations

import faulthandler
import os
import random
import re
import subprocess
from pathlib import Path

import capstone
import pytest

from tests.conftest import BIN, require_tool
from ttdbg.sourcefiles import MAX_SOURCE_BYTES, SourceUnavailable, read_source
from ttdbg.symbols import Symbols

WALK = BIN / "walk"


def _gdb_lines(binary: Path, addrs: list[int]) -> list[tuple[str, int] | None]:
    """gdb's line for each address (`info line *ADDR`: the line a frame there shows). Not
    addr2line's: where a statement's entry and a non-statement one share an address, gdb
    takes the statement's line, addr2line the last one's."""
    args = [require_tool("gdb"), "-batch", "-nx"]
    for a in addrs:
        args += ["-ex", f"info line *{a:#x}"]
    out = subprocess.run(
        [*args, str(binary)], capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    answers: list[tuple[str, int] | None] = []
    for line in out:
        found = re.match(r'Line (\d+) of "([^"]+)"', line)
        if found:
            answers.append((found.group(2), int(found.group(1))))
        elif line.startswith("No line number information"):
            answers.append(None)
    assert len(answers) == len(addrs), out[:5]
    return answers


def test_every_pc_has_the_line_gdb_gives() -> None:
    """Every instruction of the program's own functions and of some libc ones (no line info:
    'no source', not the program's last line)."""
    image = WALK.read_bytes()
    symbols = Symbols(image)
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    text = next(s for s in _sections(image) if s[0] == ".text")
    _name, base, data = text
    addrs = []
    for name in ("main", "step_value", "depth", "malloc", "printf", "_start", "__libc_start_main"):
        sym = symbols.by_name[name]
        code = data[sym.addr - base : sym.addr - base + sym.size]
        addrs += [a for a, _s, _m, _o in cs.disasm_lite(code, sym.addr)]
    expected = _gdb_lines(WALK, addrs)
    assert any(e is not None for e in expected)
    assert any(e is None for e in expected)
    for addr, want in zip(addrs, expected, strict=True):
        got = symbols.line_for(addr)
        shown = None if got is None else (os.path.basename(got.path), got.line)
        wanted = None if want is None else (os.path.basename(want[0]), want[1])
        assert shown == wanted, f"{addr:#x} {symbols.describe(addr)}"


def _sections(image: bytes) -> list[tuple[str, int, bytes]]:
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(image))
    return [(s.name, s["sh_addr"], s.data()) for s in elf.iter_sections() if s["sh_addr"]]


def test_source_paths_from_debug_info_are_opened_safely(tmp_path: Path) -> None:
    faulthandler.dump_traceback_later(60, exit=True)  # a blocking open would hang here
    try:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        big = tmp_path / "big.c"
        big.write_bytes(b"x\n" * (MAX_SOURCE_BYTES // 2 + 1))
        for path, reason in (
            ("/dev/zero", "not a regular file"),
            (str(fifo), "not a regular file"),
            (str(tmp_path), "not a regular file"),
            (str(big), "larger than"),
            (str(tmp_path / "missing.c"), "No such file"),
        ):
            with pytest.raises(SourceUnavailable, match=reason):
                read_source(path)
        ok = tmp_path / "ok.c"
        ok.write_text("int main(void) {\n    return 0;\n}\n")
        assert read_source(str(ok))[1] == "    return 0;"
    finally:
        faulthandler.cancel_dump_traceback_later()


SMALL_PROGRAM = r"""
struct pair { int a; long b; char name[8]; };
enum colour { RED, GREEN = 5 };
struct pair pairs[3];
enum colour shade = GREEN;
static int twice(int v) { return v * 2; }
void _start(void) {
    struct pair *p = &pairs[1];
    p->a = twice(21);
    for (;;) __asm__ volatile("" ::: "memory");
}
"""


@pytest.fixture(scope="module")
def small_elf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    gcc = require_tool("gcc")
    d = tmp_path_factory.mktemp("elf")
    (d / "p.c").write_text(SMALL_PROGRAM)
    subprocess.run(
        [gcc, "-g", "-O1", "-static", "-nostdlib", "-fno-stack-protector", "-o", "p", "p.c"],
        cwd=d,
        check=True,
        timeout=120,
    )
    return (d / "p").read_bytes()


def _mutate(image: bytes, rng: random.Random) -> bytes:
    """A few bytes changed, mostly in the ELF and section headers and the debug sections,
    where the parser's decisions are made."""
    data = bytearray(image)
    shoff = int.from_bytes(image[0x28:0x30], "little")
    hot = [(0, 64), (shoff, len(image))]
    debug = [(s, s + len(d)) for n, s, d in _offsets(image) if n.startswith((".debug", ".eh"))]
    for _ in range(rng.randint(1, 8)):
        lo, hi = rng.choice(hot + debug)
        pos = rng.randrange(lo, max(lo + 1, min(hi, len(data))))
        data[pos] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return bytes(data)


def _offsets(image: bytes) -> list[tuple[str, int, bytes]]:
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(image))
    return [(s.name, s["sh_offset"], s.data()) for s in elf.iter_sections()]


def test_mutated_elf_files_mean_no_symbols_never_a_crash(small_elf: bytes) -> None:
    rng = random.Random(1312)
    clean = Symbols(small_elf)
    start = clean.by_name["_start"].addr
    assert clean.line_for(start) is not None
    outcomes = {"symbols": 0, "lines": 0, "nothing": 0}
    for _case in range(300):
        symbols = Symbols(_mutate(small_elf, rng))
        for addr in (start, start + 4, 0, 2**64 - 1):
            symbols.describe(addr)
            symbols.line_for(addr)
        symbols.resolve("_start")
        outcomes["symbols" if symbols.symbols else "nothing"] += 1
        outcomes["lines"] += bool(symbols.line_for(start))
    # The loop reached both sides: files that still parse and files that no longer do.
    assert outcomes["symbols"] > 0, outcomes
    assert outcomes["nothing"] > 0, outcomes
