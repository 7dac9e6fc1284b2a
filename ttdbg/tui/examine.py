"""gdb's output formats: `x/NFU ADDR` over memory and `print/F` of one value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ttdbg.dwarf.types import Describe, format_chars, format_float, format_number

from .commands import CommandError

SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}  # units on one line of x's output, as gdb prints them
VALUE_LETTERS = "xzduotac"  # one number per unit
LETTERS = VALUE_LETTERS + "fsi"
PRINT_LETTERS = VALUE_LETTERS + "f"  # print/F: a float format too
FLOAT_SIZES = (4, 8)  # x/f: a float or a double; other sizes print in decimal
DEFAULT_SIZE = {"a": 8, "c": 1, "s": 1}  # the others: a word (w)
MAX_STRING = 200  # characters of one x/s string shown
MAX_UNITS = 1024  # units one x command shows

ReadMemory = Callable[[int, int], bytes]
Disassemble = Callable[[int, int], list[tuple[int, str]]]  # addr, count -> (addr, text)


@dataclass(frozen=True)
class ExamineFormat:
    count: int
    letter: str
    size: int

    def remembered(self, last: ExamineFormat) -> ExamineFormat:
        """What the next x command starts from (strings and instructions keep the size)."""
        return ExamineFormat(1, self.letter, last.size if self.letter in "si" else self.size)


FIRST = ExamineFormat(1, "x", 4)  # gdb's defaults before any x command


def parse_format(text: str, last: ExamineFormat = FIRST) -> ExamineFormat:
    """`4xw`, `s`, `10i`, `xg`: a count, then a format letter and a size letter in any order;
    what is left out is taken from the `last` x command, as gdb does."""
    digits = len(text) - len(text.lstrip("0123456789"))
    count = int(text[:digits]) if digits else 1
    letter, size = last.letter, 0
    for ch in text[digits:]:
        if ch in SIZES:
            size = SIZES[ch]
        elif ch in LETTERS:
            letter = ch
        else:
            raise CommandError(f'Undefined output format "{ch}" (x/FMT: {LETTERS}, sizes bhwg).')
    if not 1 <= count <= MAX_UNITS:
        raise CommandError(f"x: a count from 1 to {MAX_UNITS}, not {count}")
    if not size and letter == "f":
        # gdb: a float keeps the last size if it is a float's, else it is a double.
        size = last.size if last.size in FLOAT_SIZES else 8
    return ExamineFormat(count, letter, size or DEFAULT_SIZE.get(letter, last.size))


def _label(addr: int, describe: Describe) -> str:
    name = describe(addr)
    return f"{addr:#x} <{name}>:" if name else f"{addr:#x}:"


def examine(
    fmt: ExamineFormat,
    addr: int,
    read: ReadMemory,
    describe: Describe,
    disassemble: Disassemble,
    pc: int | None = None,
) -> str:
    """What gdb's `x/FMT ADDR` prints (reads raise the caller's error where memory ends);
    x/i marks the instruction at `pc` with `=>` as gdb does."""
    if fmt.letter == "i":
        return "\n".join(
            f"{'=> ' if at == pc else '   '}{_label(at, describe)}\t{text}"
            for at, text in disassemble(addr, fmt.count)
        )
    if fmt.letter == "s":
        lines = []
        for _ in range(fmt.count):
            data = read(addr, MAX_STRING)
            end = data.find(b"\0")
            text = data if end < 0 else data[:end]
            shown = format_chars(text, drop_final_nul=False) + ("..." if end < 0 else "")
            lines.append(f"{_label(addr, describe)}\t{shown}")
            addr += len(text) + 1
        return "\n".join(lines)
    data = read(addr, fmt.count * fmt.size)
    lines = []
    per_line = PER_LINE[fmt.size]
    for first in range(0, fmt.count, per_line):
        units = []
        for i in range(first, min(fmt.count, first + per_line)):
            unit = data[i * fmt.size : (i + 1) * fmt.size]
            if fmt.letter == "f" and fmt.size in FLOAT_SIZES:
                units.append(format_float(unit))
                continue
            value = int.from_bytes(unit, "little")
            letter = "d" if fmt.letter == "f" else fmt.letter
            units.append(format_number(value, fmt.size, letter, describe, padded=True))
        lines.append(_label(addr + first * fmt.size, describe) + "\t" + "\t".join(units))
    return "\n".join(lines)
