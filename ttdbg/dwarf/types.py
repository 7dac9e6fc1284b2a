"""C types as DWARF describes them, and values of those types formatted as gdb prints them."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

REPEAT_THRESHOLD = 10  # gdb's `set print repeats`: runs longer than this are collapsed
PRINT_ELEMENTS = 200  # gdb's `set print elements`


@dataclass(eq=False)
class CType:
    """One type; `target` (pointee, element, enum base) is filled in after construction so
    recursive types (a struct pointing to itself) are one object graph."""

    kind: str  # int, uint, char, uchar, bool, float, pointer, reference, array, struct, union,
    # enum, void
    name: str
    size: int
    target: CType | None = None
    count: int | None = None  # array elements (None: unknown bound)
    members: list[tuple[str, int, CType]] = field(default_factory=list)  # name, offset, type
    enumerators: dict[int, str] = field(default_factory=dict)

    def spelled(self) -> str:
        """The type's name as gdb writes it (`int`, `struct pair *`, `char [8]`)."""
        if self.kind in ("pointer", "reference"):
            inner = self.target.spelled() if self.target is not None else "void"
            mark = "*" if self.kind == "pointer" else "&"
            return inner + (mark if inner.endswith(("*", "&")) else f" {mark}")
        if self.kind == "array":
            inner = self.target.spelled() if self.target is not None else "?"
            return f"{inner} [{self.count if self.count is not None else ''}]"
        return self.name

    @property
    def is_char(self) -> bool:
        return self.kind in ("char", "uchar")


Describe = Callable[[int], str]  # address -> "symbol+offset" or ""


def decode_int(t: CType, data: bytes) -> int:
    signed = t.kind in ("int", "char") or (t.kind == "enum" and min(t.enumerators, default=0) < 0)
    return int.from_bytes(data[: t.size], "little", signed=signed)


def _char(c: int, quote: str) -> str:
    escapes = {
        7: "\\a",
        8: "\\b",
        9: "\\t",
        10: "\\n",
        11: "\\v",
        12: "\\f",
        13: "\\r",
        27: "\\033",
    }
    if c in escapes:
        return escapes[c]
    if chr(c) in (quote, "\\"):
        return "\\" + chr(c)
    if 32 <= c < 127:
        return chr(c)
    return f"\\{c:03o}"


def format_chars(data: bytes, drop_final_nul: bool = True) -> str:
    """A char array as gdb prints it: a quoted string, with long runs as `'c' <repeats N
    times>`, and one final NUL left out."""
    if drop_final_nul and data.endswith(b"\0"):
        data = data[:-1]
    if not data:
        return '""'
    parts: list[str] = []
    text = ""
    i = 0
    while i < len(data):
        run = 1
        while i + run < len(data) and data[i + run] == data[i]:
            run += 1
        if run > REPEAT_THRESHOLD:
            if text:
                parts.append(f'"{text}"')
                text = ""
            parts.append(f"'{_char(data[i], chr(39))}' <repeats {run} times>")
        else:
            text += _char(data[i], '"') * run
        i += run
    if text:
        parts.append(f'"{text}"')
    return ", ".join(parts)


def format_value(
    t: CType, data: bytes, describe: Describe, read_string: Callable[[int], bytes | None]
) -> str:
    """`data` (t.size bytes) as gdb prints it in `info locals` (no type prefix)."""
    kind = t.kind
    if kind in ("int", "uint"):
        return str(decode_int(t, data))
    if kind in ("char", "uchar"):
        v = decode_int(t, data)
        return f"{v} '{_char(v & 0xFF, chr(39))}'"
    if kind == "bool":
        v = decode_int(t, data)
        return {0: "false", 1: "true"}.get(v, str(v))
    if kind == "float":
        return format_float(data[: t.size]) if t.size in (4, 8) else "<unsupported float size>"
    if kind == "enum":
        v = decode_int(t, data)
        return t.enumerators.get(v, str(v))
    if kind == "pointer":
        addr = int.from_bytes(data[:8], "little")
        text = f"{addr:#x}"
        target = t.target
        if target is not None and target.is_char and addr:
            s = read_string(addr)
            shown = format_chars(s, drop_final_nul=False) if s is not None else "<error>"
            return f"{text} {shown}"
        where = describe(addr) if addr else ""
        return f"{text} <{where}>" if where else text
    if kind == "array":
        return _format_array(t, data, describe, read_string)
    if kind in ("struct", "union"):
        fields = [
            f"{name} = {format_value(mt, data[off : off + mt.size], describe, read_string)}"
            for name, off, mt in t.members
        ]
        return "{" + ", ".join(fields) + "}"
    if kind == "void":
        return "void"
    return "<unsupported type>"


def format_number(value: int, size: int, letter: str, describe: Describe, padded: bool) -> str:
    """One unit of `size` bytes in gdb's letter (x's columns are `padded` to the size)."""
    bits = 8 * size
    unsigned = value & ((1 << bits) - 1)
    signed = unsigned - (1 << bits) if unsigned >> (bits - 1) else unsigned
    if letter == "z" or (letter == "x" and padded):
        return f"0x{unsigned:0{2 * size}x}"
    if letter == "x":
        return f"{unsigned:#x}"
    if letter == "d":
        return str(signed)
    if letter == "u":
        return str(unsigned)
    if letter == "o":
        return f"0{unsigned:o}" if unsigned else "0"
    if letter == "t":
        return f"{unsigned:0{bits}b}" if padded else f"{unsigned:b}"
    if letter == "a":
        name = describe(unsigned)
        return f"{unsigned:#x}" + (f" <{name}>" if name else "")
    if letter == "c":
        low = signed if size == 1 else (unsigned & 0xFF) - (0x100 if unsigned & 0x80 else 0)
        return f"{low} '{_char(low & 0xFF, chr(39))}'"
    raise ValueError(f'Undefined output format "{letter}".')


def format_float(data: bytes) -> str:
    """A float or double (4 or 8 bytes) as gdb prints it (%g with 9 or 17 digits)."""
    if len(data) == 4:
        (number,) = struct.unpack("<f", data)
        bits, mantissa_bits, digits = int.from_bytes(data, "little"), 23, 9
    else:
        (number,) = struct.unpack("<d", data[:8])
        bits, mantissa_bits, digits = int.from_bytes(data[:8], "little"), 52, 17
    if number != number:  # gdb shows a NaN's payload
        sign = "-" if bits >> (8 * len(data) - 1) else ""
        return f"{sign}nan({bits & ((1 << mantissa_bits) - 1):#x})"
    return format(number, f".{digits}g")


def format_letter(t: CType, data: bytes, letter: str, describe: Describe) -> str:
    """`data` of type `t` as gdb's print/LETTER shows it: each scalar by the letter, arrays,
    structs and unions element by element. Integer letters show a float's bits (c and a its
    value); f shows a 4- or 8-byte integer's bits as a float, narrower ones in decimal."""
    kind = t.kind
    if kind == "array":
        elem = t.target
        if elem is None or not elem.size or t.count is None:
            return "<unknown array>"
        items = [
            format_letter(elem, data[i * elem.size : (i + 1) * elem.size], letter, describe)
            for i in range(min(t.count, PRINT_ELEMENTS))
        ]
        return "{" + _collapse(items) + ("..." if t.count > PRINT_ELEMENTS else "") + "}"
    if kind in ("struct", "union"):
        fields = [
            f"{name} = {format_letter(mt, data[off : off + mt.size], letter, describe)}"
            for name, off, mt in t.members
        ]
        return "{" + ", ".join(fields) + "}"
    if kind == "void" or not t.size:
        return "void"
    size = t.size
    if kind == "float":
        if size not in (4, 8):
            return "<unsupported float size>"
        if letter == "f":
            return format_float(data[:size])
        number = struct.unpack("<f" if size == 4 else "<d", data[:size])[0]
        if letter in "ac" and number == number and abs(number) != float("inf"):
            value = int(number)  # the value converted, as gdb does for these two
        else:
            value = int.from_bytes(data[:size], "little")
        return format_number(value, size, letter, describe, padded=letter == "z")
    value = int.from_bytes(data[:size], "little") if kind == "pointer" else decode_int(t, data)
    if letter == "f":
        return format_float(data[:size]) if size in (4, 8) else str(value)
    return format_number(value, size, letter, describe, padded=letter == "z")


def _collapse(items: list[str]) -> str:
    """Array elements joined, runs longer than gdb's repeat threshold collapsed."""
    out: list[str] = []
    i = 0
    while i < len(items):
        run = 1
        while i + run < len(items) and items[i + run] == items[i]:
            run += 1
        if run > REPEAT_THRESHOLD:
            out.append(f"{items[i]} <repeats {run} times>")
            i += run
        else:
            out.append(items[i])
            i += 1
    return ", ".join(out)


def _format_array(
    t: CType, data: bytes, describe: Describe, read_string: Callable[[int], bytes | None]
) -> str:
    elem = t.target
    if elem is None or not elem.size or t.count is None:
        return "<unknown array>"
    if elem.is_char:
        return format_chars(data[: t.count])
    items = [
        format_value(elem, data[i * elem.size : (i + 1) * elem.size], describe, read_string)
        for i in range(min(t.count, PRINT_ELEMENTS))
    ]
    more = "..." if t.count > PRINT_ELEMENTS else ""
    return "{" + _collapse(items) + more + "}"
