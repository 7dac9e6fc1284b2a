"""x/FMT and print/FMT print what gdb prints: gdb 13 on the program file is the oracle
(at icount 0 the recording's memory is the file's)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from tests.conftest import BIN, SAMPLES, missing, require_tool
from tests.guest_programs import NOSTDLIB, build
from ttdbg.backend import arch as arches
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols
from ttdbg.tui.commands import CommandError
from ttdbg.tui.examine import FIRST, examine, format_number, parse_format
from ttdbg.tui.gdbdisasm import GdbDisassembler
from ttdbg.tui.view import ViewBuilder

# Strings and numbers in .rodata, pointers in .data; every letter and size.
EXAMINES = [
    "x/6xw 0x479010", "x/6xh 0x479010", "x/9xb 0x479010", "x/3xg 0x479010",
    "x/6dh 0x479010", "x/5dw 0x479020", "x/5ub 0x479010", "x/3uw 0x479010",
    "x/6ow 0x479010", "x/2tb 0x479010", "x/2tw 0x479010", "x/3zg 0x479010",
    "x/9cb 0x479010", "x/3s 0x479000", "x/3ag 0x4a40c0", "x/2xg 0x4a40d0",
    "x/4dg 0x479020", "x/x 0x479010", "x/s 0x479004", "x/12xb 0x4a40d0",
    # Floats: 4 and 8 bytes, NaNs with their payload, bytes and halves in decimal, and the
    # size left out: the last one if it is a float's, else a double's.
    "x/4fw 0x479010", "x/2fg 0x479010", "x/8fb 0x479020", "x/4fh 0x479020",
    "x/f 0x479010", "x/2xw 0x479010", "x/f 0x479010", "x/9fw 0x479000", "x/5fg 0x479000",
    "x/20fw 0x4a40d0", "x/2a 0x4a40c0", "x/f 0x4a40c0",
]  # fmt: skip


def gdb_batch(gdb: str, program: Path, commands: list[str]) -> list[str]:
    """Each command's output from one batch gdb (or gdb-multiarch) on `program`."""
    args = [gdb, "-batch", "-nx"]
    for command in commands:
        args += ["-ex", "echo @@\\n", "-ex", command]
    out = subprocess.run(
        [*args, str(program)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [part.split("\n", 1)[1].rstrip("\n") for part in out.split("@@")[1:]]


def _disassembler(arch: str) -> GdbDisassembler:
    """x/i's disassembler for the architecture named `arch`, as the TUI makes it."""
    found = arches.by_name(arch)
    return GdbDisassembler(found.cs_arch, found.cs_mode)


def _text_x_i(name: str, arch: str) -> tuple[Path, int, bytes, Any, Any]:
    """tests/programs/NAME.c built for `arch` without a C library: the program, its .text's
    address and bytes, a reader of them, and x/i's instruction source over them."""
    program = build(name, arch, NOSTDLIB)
    image = program.read_bytes()
    text = ELFFile(io.BytesIO(image)).get_section_by_name(".text")
    start, code = text["sh_addr"], text.data()
    symbols = Symbols(image)
    disasm = _disassembler(arch)

    def read(addr: int, size: int) -> bytes:
        return code[addr - start : addr - start + size]

    def instructions(addr: int, count: int) -> list[tuple[int, str]]:
        code = read(addr, 16 * count)
        return list(disasm.disassemble(code, addr, count, symbols.describe_within))

    return program, start, code, read, instructions


def gdb_output(commands: list[str]) -> list[str]:
    """Each command's output from one batch gdb on the walk program."""
    return gdb_batch(require_tool("gdb"), BIN / "walk", commands)


@pytest.fixture(scope="module")
def walk() -> tuple[Timeline, Symbols]:
    rec = open_recording(str(SAMPLES / "walk.ttrec"))
    return Timeline(rec), Symbols(rec.program_image, rec.program.load_bias)


def test_examine_prints_what_gdb_prints(walk: tuple[Timeline, Symbols]) -> None:
    tl, symbols = walk
    expected = gdb_output(EXAMINES)
    last = FIRST  # what is left out comes from the command before, in gdb as here
    for command, want in zip(EXAMINES, expected, strict=True):
        text, _, addr = command[2:].partition(" ")
        fmt = parse_format(text, last)
        last = fmt.remembered(last)
        got = examine(fmt, int(addr, 16), tl.read_memory, symbols.describe_within,
                      lambda a, n: [])  # fmt: skip
        assert got == want, command


def test_examine_instructions_prints_gdbs_att_syntax(walk: tuple[Timeline, Symbols]) -> None:
    """x/i: AT&T in GNU's spelling (suffixes only where no register gives the size, hex
    numbers, scale 1, padded mnemonics, symbolized targets and %rip-relative comments)."""
    tl, symbols = walk
    arch = tl.machine.arch
    disasm = GdbDisassembler(arch.cs_arch, arch.cs_mode)

    def instructions(addr: int, count: int) -> list[tuple[int, str]]:
        code = tl.read_memory(addr, 16 * count)
        return list(disasm.disassemble(code, addr, count, symbols.describe_within))

    commands = ["x/51i 0x401615", "x/28i 0x40168a", "x/3i 0x4016fa"]  # step_value, depth, main
    for command, want in zip(commands, gdb_output(commands), strict=True):
        text, _, addr = command[2:].partition(" ")
        got = examine(parse_format(text), int(addr, 16), tl.read_memory,
                      symbols.describe_within, instructions)  # fmt: skip
        assert got == want, command
    # At the pc, gdb's `=>` takes the place of the indent.
    marked = examine(parse_format("2i"), 0x401615, tl.read_memory, symbols.describe_within,
                     instructions, pc=0x401618).splitlines()  # fmt: skip
    assert marked[0].startswith("   0x401615 <step_value>:")
    assert marked[1].startswith("=> 0x401618 <step_value+3>:\tlea    (%rax,%rsi,1),%edx")


# Where the disassembly pane's old labels (full symbols, objdump's PLT names) differed from
# gdb's: an IFUNC resolver's rows and the branches inside it (`memcpy`, not
# `__new_memcpy_ifunc`), calls into a static program's IRELATIVE PLT entries (no label, not
# `*ABS*+0x...@plt`), and an ordinary function around them.
PANE_PLACES = ["x/45i memcpy", "x/130i __libc_setup_tls", "x/40i step_value"]
GDB_ROW = re.compile(r"^(?:=>)? +0x[0-9a-f]+(?: <(.+?)>)?:\t(.*)$")
LABEL_AT_END = re.compile(r" <([^<>]+)>$")


def test_disassembly_pane_labels_as_x_i(walk: tuple[Timeline, Symbols]) -> None:
    """The disassembly pane names each row and each branch target as gdb's x/i does for the
    same instruction, and spells it as x/i does (one labelling and decoding path for both):
    gdb on the program is the oracle."""
    tl, symbols = walk
    builder = ViewBuilder(tl, symbols)
    targets = 0
    for command, want in zip(PANE_PLACES, gdb_output(PANE_PLACES), strict=True):
        gdb_rows = [GDB_ROW.match(line) for line in want.splitlines()]
        assert all(gdb_rows), command
        first = int(want.split()[0], 16)
        lines = builder.disassemble(first, 0, len(gdb_rows) - 1)
        assert len(lines) == len(gdb_rows), command
        for line, row in zip(lines, gdb_rows, strict=True):
            assert row is not None
            assert line.label == (row.group(1) or ""), f"{line.addr:#x} {command}"
            # The row's text is x/i's too (one decoder), its branch target's label included.
            assert line.text == row.group(2), f"{line.addr:#x} {command}"
            targets += bool(LABEL_AT_END.search(row.group(2)))
    assert targets >= 20


def test_print_formats_are_gdbs() -> None:
    cases = {
        ("x", 7, 4): "0x7", ("x", -1, 4): "0xffffffff", ("z", 7, 4): "0x00000007",
        ("d", 0xFFFFFFFF, 4): "-1", ("u", -1, 2): "65535", ("o", 8, 4): "010",
        ("o", 0, 4): "0", ("t", 5, 4): "101", ("c", 65, 1): "65 'A'", ("c", 10, 4): "10 '\\n'",
    }  # fmt: skip
    expressions = [f"p/{letter} ({ {1: 'char', 2: 'short', 4: 'int'}[size]}){value}"
                   for (letter, value, size) in cases]  # fmt: skip
    for ((letter, value, size), text), shown, command in zip(
        cases.items(), gdb_output(expressions), expressions, strict=True
    ):
        assert shown.split(" = ", 1)[1] == text, command  # gdb agrees with the table
        assert format_number(value, size, letter, lambda a: "", padded=False) == text


def test_bad_formats_are_refused() -> None:
    for bad in ("4q", "0x", "xk", "2000xb"):
        with pytest.raises(CommandError):
            parse_format(bad)


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_examine_instructions_in_gnu_spelling_off_x86(arch: str) -> None:
    """x/i on AArch64 and RISC-V: gdb-multiarch on the same program is the oracle, over
    the program's code and the C library's after it (2,048 instructions: loads, stores,
    branches, conditions with their aliases, immediates, compressed RISC-V forms)."""
    gdb = require_tool("gdb-multiarch")
    rec = open_recording(str(SAMPLES / arch / "walk.ttrec"))
    tl = Timeline(rec)
    symbols = Symbols(rec.program_image, rec.program.load_bias)
    disasm = GdbDisassembler(tl.machine.arch.cs_arch, tl.machine.arch.cs_mode)
    main = symbols.by_name["main"].addr
    commands = [f"x/1024i {main:#x}", "x/1024i"]  # the second goes on where the first ended

    def instructions(addr: int, count: int) -> list[tuple[int, str]]:
        code = tl.read_memory(addr, 4 * count)
        return list(disasm.disassemble(code, addr, count, symbols.describe_within))

    expected = gdb_batch(gdb, BIN / arch / "walk", commands)
    addr = main
    for want in expected:
        got = examine(parse_format("1024i"), addr, tl.read_memory, symbols.describe_within,
                      instructions)  # fmt: skip
        for got_line, want_line in zip(got.splitlines(), want.splitlines(), strict=True):
            assert got_line == want_line
        last = int(want.splitlines()[-1].split()[0], 16)
        addr = instructions(last, 2)[1][0]  # where the next command goes on


# Places in the C library and crt code of the walk programs, each a run of instructions x/i
# spells in a way capstone does not: labels from every kind of ELF symbol (IFUNC resolvers
# such as memcpy, crt's size-0 functions and untyped labels such as __wrap_main and
# load_gp), bitmask immediates as the register's bits, SIMD immediates in hex, `%.18e`
# floats, udf's decimal, li/csrs/jr aliases; with the loads, stores, branches and calls
# around them (on RISC-V, compressed and full-size).
GNU_SPELLING_PLACES = {
    "aarch64": [
        "x/6i _init", "x/72i __wrap_main", "x/84i memcpy", "x/66i memset", "x/15i memchr",
        "x/30i strlen", "x/72i strrchr", "x/30i __sfp_handle_exceptions", "x/28i _IO_init",
        "x/30i sysmalloc", "x/50i free_mem", "x/12i _dl_find_object_init", "x/30i _dl_open",
        "x/80i __strlen_asimd", "x/5i _fini",
    ],
    "riscv64": [
        "x/12i _start", "x/60i deregister_tm_clones", "x/70i __lttf2", "x/45i __unordtf2",
        "x/60i memcpy", "x/60i strlen", "x/50i _IO_init", "x/120i __libc_start_main",
        "x/80i sysmalloc", "x/60i _IO_new_file_close_it",
    ],
}  # fmt: skip


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_examine_instructions_of_the_c_library_as_gdb_multiarch(arch: str) -> None:
    """x/i over the C library's and crt's code, whole outputs compared with gdb-multiarch's
    for the same addresses (gdb names the place; its first row gives the address)."""
    gdb = require_tool("gdb-multiarch")
    rec = open_recording(str(SAMPLES / arch / "walk.ttrec"))
    tl = Timeline(rec)
    symbols = Symbols(rec.program_image, rec.program.load_bias)
    disasm = GdbDisassembler(tl.machine.arch.cs_arch, tl.machine.arch.cs_mode)

    def instructions(addr: int, count: int) -> list[tuple[int, str]]:
        code = tl.read_memory(addr, 4 * count)
        return list(disasm.disassemble(code, addr, count, symbols.describe_within))

    commands = GNU_SPELLING_PLACES[arch]
    expected = gdb_batch(gdb, BIN / arch / "walk", commands)
    compared = 0
    for command, want in zip(commands, expected, strict=True):
        count = command[2:].split("i ", 1)[0]
        addr = int(want.split()[0], 16)
        got = examine(parse_format(f"{count}i"), addr, tl.read_memory, symbols.describe_within,
                      instructions)  # fmt: skip
        differing = [
            (w, g) for w, g in zip(want.splitlines(), got.splitlines(), strict=True) if w != g
        ]
        assert differing == [], command
        compared += len(want.splitlines())
    assert compared >= 500


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_examine_instructions_the_c_library_lacks_as_gdb_multiarch(arch: str) -> None:
    """x/i over tests/programs/gnu_spelling.c's instructions (forms the C library has few or
    none of: every immediate kind, addressing mode, alias and CSR form), compared whole with
    gdb-multiarch's on the built program."""
    gdb = require_tool("gdb-multiarch")
    program, start, code, read, instructions = _text_x_i("gnu_spelling", arch)
    decoded = instructions(start, len(code))
    undecoded = [t for _a, t in decoded if "undefined" in t or "byte\t" in t]
    assert undecoded == []  # capstone decoded every instruction
    symbols = Symbols(program.read_bytes())

    command = f"x/{len(decoded)}i {start:#x}"
    want = subprocess.run(
        [gdb, "-batch", "-nx", "-ex", command, str(program)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.rstrip("\n")  # fmt: skip
    got = examine(parse_format(f"{len(decoded)}i"), start, read, symbols.describe_within,
                  instructions)  # fmt: skip
    differing = [(w, g) for w, g in zip(want.splitlines(), got.splitlines(), strict=True) if w != g]
    assert differing == []
    assert len(decoded) >= 90


def _compare_x_i_with_gdb(gdb: str, program: Path, commands: list[str]) -> int:
    """Runs `commands` (x/Ni PLACE) in gdb on the program file and our x/i at the address of
    gdb's first row, over the file's bytes; asserts the outputs are the same line for line
    and returns how many lines were compared."""
    image = program.read_bytes()
    elf = ELFFile(io.BytesIO(image))
    sections = [(s["sh_addr"], s.data()) for s in elf.iter_sections()
                if s["sh_flags"] & 2 and s["sh_type"] == "SHT_PROGBITS"]  # fmt: skip
    arch = arches.by_elf_machine(elf["e_machine"], elf.elfclass)
    symbols = Symbols(image)
    disasm = GdbDisassembler(arch.cs_arch, arch.cs_mode)

    def read(addr: int, size: int) -> bytes:
        for start, data in sections:
            if start <= addr < start + len(data):
                return data[addr - start : addr - start + size]
        raise AssertionError(f"{addr:#x} is in no section")

    def instructions(addr: int, count: int) -> list[tuple[int, str]]:
        code = read(addr, 16 * count)
        return list(disasm.disassemble(code, addr, count, symbols.describe_within))

    expected = gdb_batch(gdb, program, commands)
    compared = 0
    for command, want in zip(commands, expected, strict=True):
        count = command[2:].split("i ", 1)[0]
        addr = int(want.split()[0].rstrip(":"), 16)
        got = examine(parse_format(f"{count}i"), addr, read, symbols.describe_within,
                      instructions)  # fmt: skip
        assert len(got.splitlines()) == len(want.splitlines()), command  # as many decoded
        differing = [
            (w, g) for w, g in zip(want.splitlines(), got.splitlines(), strict=True) if w != g
        ]
        assert differing == [], command
        compared += len(want.splitlines())
    return compared


# x86-64 places whose GNU spelling capstone's AT&T printer lacks: a displacement of 0 that
# the encoding holds (`nopl 0x0(%rax)`, `mov 0x0(%rbp),%rdi`), ignored prefixes as words
# (`data16 cs nopw`, `addr32 call`), a suffix where only a segment-prefixed address sizes
# the operand (`movl $0x16,%fs:(%rax)`), shifts by one, `push $0x0`, string instructions'
# segments, x87 register pairs, AVX-512 masks, xbegin/xabort, fwait, IFUNC labels
# (memcpy) and, in the static PIE, `<*ABS*@got.plt>` slots after the PLT's jumps.
X86_PLACES = {
    "walk": [
        "x/12i _start", "x/45i memcpy", "x/250i __libc_start_main_impl",
        "x/60i register_tm_clones", "x/80i __strncmp_sse2", "x/50i arena_get2",
        "x/25i __lll_lock_elision", "x/20i __sfp_handle_exceptions", "x/8i __printf_fp_l+800",
        "x/8i abort+280", "x/200i __strcasecmp_l_evex", "x/80i __rawmemchr_evex_rtm",
    ],
    "hello-musl": ["x/1000i fmt_fp"],
    "hello-pie": ["x/30i 0x9020"],
}  # fmt: skip


@pytest.mark.parametrize("program", sorted(X86_PLACES))
def test_examine_instructions_of_the_c_library_as_gdb_on_x86(program: str) -> None:
    """x/i over x86-64 C library code, whole outputs compared with gdb's."""
    compared = _compare_x_i_with_gdb(require_tool("gdb"), BIN / program, X86_PLACES[program])
    assert compared >= 30


@pytest.mark.parametrize("arch", ["aarch64", "riscv64", "x86_64"])
def test_examine_goes_on_past_bytes_no_instruction_starts_with(arch: str) -> None:
    """Undecodable bytes between instructions (tests/programs/bad_bytes.c) show as gdb shows
    them (`(bad)` with its prefixes, `.inst ... ; undefined`, `.2byte`/`.4byte`/`.byte` by
    RISC-V's length rule) and x/i goes on after them as gdb does, instead of ending there."""
    gdb = require_tool("gdb" if arch == "x86_64" else "gdb-multiarch")
    program, start, _code, read, instructions = _text_x_i("bad_bytes", arch)
    symbols = Symbols(program.read_bytes())

    want = subprocess.run(  # gdb fails where the section ends, after the rows we want
        [gdb, "-batch", "-nx", "-ex", f"x/90i {start:#x}", str(program)],
        capture_output=True, text=True, timeout=60,
    ).stdout.rstrip("\n").splitlines()  # fmt: skip
    end = next(i for i, line in enumerate(want) if line.endswith("ret"))
    want = want[: end + 1]  # the padding after ret is not the point
    got = examine(parse_format(f"{len(want)}i"), start, read, symbols.describe_within,
                  instructions).splitlines()  # fmt: skip
    assert got == want
    assert sum("bad" in line or "byte" in line or "undefined" in line for line in want) >= 3


def test_disassembly_pane_lists_what_follows_ud0_and_ud1_at_gdbs_addresses(
    tmp_path: Path,
) -> None:
    """ud0 and ud1 take ModRM operands (tests/programs/undefined_skipped.c jumps over some):
    the pane's lines are gdb's x/i lines, the undefined ones spelled as gdb spells them."""
    gdb = require_tool("gdb")
    program = build("undefined_skipped", "x86_64", NOSTDLIB)
    path = tmp_path / "skipped.ttrec"
    Recorder(str(program), [b"skipped"], [], str(path)).run()
    tl = Timeline(open_recording(str(path)))
    image = program.read_bytes()
    lines = ViewBuilder(tl, Symbols(image)).build(None).disasm
    want = subprocess.run(
        [gdb, "-batch", "-nx", "-ex", "x/8i _start", str(program)],
        capture_output=True, text=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    rows = [re.match(r"\s*(?:=> )?(0x[0-9a-f]+) <[^>]*>:\t(.*)", row) for row in want]
    expected = [(int(m.group(1), 16), m.group(2)) for m in rows if m]
    names = [text.split()[-2 if "," in text else -1] for _addr, text in expected[1:5]]
    assert names == ["ud0", "ud1", "ud0", "ud0"], expected
    # The pane spells them as x/i does, operands and prefix words included.
    assert [(line.addr, line.text) for line in lines[: len(expected)]] == expected


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
def test_disassembly_pane_goes_on_past_bytes_no_instruction_starts_with(
    arch: str, tmp_path: Path
) -> None:
    """The pane lists code as x/i does (one decoder for both): bad_bytes recorded (it dies on
    its first instruction, so the pane shows its code from the start), the pane's rows are
    gdb's x/i rows up to `ret`, the undecodable ones included, where it ended its listing at
    the first of them. (RISC-V: the recorder cannot record bad_bytes yet.)"""
    gdb = require_tool("gdb" if arch == "x86_64" else "gdb-multiarch")
    program = build("bad_bytes", arch, NOSTDLIB)
    path = tmp_path / "bad.ttrec"
    Recorder(str(program), [b"bad"], [], str(path)).run()
    tl = Timeline(open_recording(str(path)))
    want = subprocess.run(  # gdb fails where the section ends, after the rows we want
        [gdb, "-batch", "-nx", "-ex", "x/90i _start", str(program)],
        capture_output=True, text=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    end = next(i for i, line in enumerate(want) if line.endswith("ret"))
    rows = [re.fullmatch(r"\s*(0x[0-9a-f]+) <[^>]*>:\t(.*)", row) for row in want[: end + 1]]
    expected = [(int(m.group(1), 16), m.group(2)) for m in rows if m]
    assert len(expected) == end + 1
    assert sum("bad" in t or "undefined" in t for _a, t in expected) >= 3
    lines = ViewBuilder(tl, Symbols(program.read_bytes())).build(None, 0, len(expected)).disasm
    assert lines[0].is_pc
    assert [(line.addr, line.text) for line in lines[: len(expected)]] == expected


def test_examine_names_a_librarys_plt_entries_as_gdb() -> None:
    """In a shared library, gdb names the PLT entries of its own IFUNCs as BFD does
    (`call 0x28490 <*ABS*+0x9f1c0@plt>` in libc's puts), which a static program's lack; the
    host's libc against gdb on that file."""
    libc = Path("/lib/x86_64-linux-gnu/libc.so.6")
    if not libc.exists():
        missing(f"{libc} is not there")
    gdb = require_tool("gdb")
    (want,) = gdb_batch(gdb, libc, ["x/40i puts"])
    image = libc.read_bytes()
    text = ELFFile(io.BytesIO(image)).get_section_by_name(".text")
    symbols = Symbols(image)
    start = symbols.by_name["puts"].addr
    code = text.data()[start - text["sh_addr"] :][:640]
    got = _disassembler("x86_64").disassemble(code, start, 40, symbols.describe_within)
    # (The rows' own labels are left out: gdb picks other names among libc's aliases.)
    calls = [row.split(":\t", 1)[1] for row in want.splitlines() if "@plt>" in row]
    assert any("<*ABS*+0x" in call for call in calls), want
    assert [t for _a, t in got if "@plt>" in t] == calls
