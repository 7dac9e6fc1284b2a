"""Instructions as gdb's `x/i` prints them: binutils' spelling on x86, AArch64 and RISC-V.

Capstone's AT&T printer differs from GNU's in ways a gdb user notices: it always writes the
size suffix (`movl %edx, %eax`), small numbers in decimal (`$1`, `-4(%rbp)`), a space after
every comma and no scale of 1 (`(%rdi, %rdi)`), and it does not symbolize targets. GNU writes
the suffix only where no register gives the size, every number in hex, `(%rdi,%rdi,1)`, the
mnemonic padded to six columns, `<symbol+offset>` after direct targets and a `# address
<symbol>` comment after %rip-relative operands; it also writes an encoded displacement of 0
(`nopl 0x0(%rax)`), prefixes the instruction ignores as words (`data16 cs nopw`), string
instructions' segments, both x87 stack operands, and leaves out a shift's count of one. On
AArch64 and RISC-V capstone's operands are respelled by instruction class (which immediates
are hex, which decimal, condition aliases, compressed RISC-V instructions as what they expand
to, binutils' aliases, branch targets as addresses).

x86's Intel flavor (`set disassembly-flavor intel`) is capstone's Intel text, not GNU's
spelling of it, with gdb's `<symbol+offset>` after direct targets and `# address <symbol>`
after %rip-relative operands.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import capstone

from .branchtarget import thumb_branch_target

Describe = Callable[[int], str]  # address -> "symbol+offset" or ""

_DECIMAL = re.compile(r"(?<![\w$])(-?)(\d+)(?![\w])")  # a number capstone wrote in decimal
_IMMEDIATE = re.compile(r"\$(-?)(\d+)\b")
_RIP = re.compile(r"(-?0x[0-9a-f]+)\(%rip\)")
_TARGET = re.compile(r"^(0x[0-9a-f]+)$")
_INTEL_RIP = re.compile(r"\[rip ([+-]) (0x[0-9a-f]+|\d+)\]")
# gdb's `set disassembly-flavor` values (x86 only); the first is gdb's default.
FLAVORS = ("att", "intel")
_SUFFIXES = "bwlq"
# GNU's names of the legacy prefixes, as it prints those no instruction uses.
_X86_PREFIX_WORDS = {
    0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs", 0x66: "data16",
    0x67: "addr32", 0xF0: "lock", 0xF2: "repnz", 0xF3: "repz",
}  # fmt: skip
# REX's bits as GNU names them (`rex.WB`).
_X86_REX_BITS = ((8, "W"), (4, "R"), (2, "X"), (1, "B"))
# VEX prefixes and their bytes (the escape byte and its payload) before the opcode.
_X86_VEX_LENGTHS = {0xC4: 3, 0xC5: 2}
# Legacy prefix bytes, as the encoding starts with them.
_X86_PREFIXES = frozenset(_X86_PREFIX_WORDS)
# Segment overrides 64-bit mode ignores: capstone puts them on the operand, GNU prints the
# prefix's name before the mnemonic (`cs nopw 0x0(%rax,%rax,1)`).
_X86_NULL_SEGMENTS = {"%cs:": "cs", "%ds:": "ds", "%es:": "es", "%ss:": "ss"}
# Opcodes of the shifts and rotates by one: GNU leaves the count out (`shr %edx`).
_X86_BY_ONE = frozenset((0xD0, 0xD1))
# Whose size 64-bit mode fixes: GNU writes no suffix.
_X86_UNSUFFIXED = {"pushq": "push", "popq": "pop"}
# Names GNU gives differently.
_X86_RENAMED = {"fucompi": "fucomip", "fcompi": "fcomip", "wait": "fwait"}
# x87 register forms (opcode, ModRM bytes) where GNU writes both stack operands and
# capstone one: arithmetic, fcmov and fcomi/fucomi[p].
_X87_ARITHMETIC = frozenset((*range(0xC0, 0xD0), *range(0xE0, 0x100)))
_X87_OPERANDS = {
    0xD8: (_X87_ARITHMETIC, "{},%st"), 0xDC: (_X87_ARITHMETIC, "%st,{}"),
    0xDE: (_X87_ARITHMETIC, "%st,{}"), 0xDA: (frozenset(range(0xC0, 0xE0)), "{},%st"),
    0xDB: (frozenset((*range(0xC0, 0xE0), *range(0xE8, 0xF8))), "{},%st"),
    0xDF: (frozenset(range(0xE8, 0xF8)), "{},%st"),
}  # fmt: skip
# Whose byte immediate capstone widens to 64 bits.
_X86_BYTE_IMMEDIATE = frozenset(("xabort",))
# String instructions (by opcode): GNU names their implicit segments (`stos %eax,%es:(%rdi)`).
_X86_STRINGS = frozenset((*range(0xA4, 0xA8), *range(0xAA, 0xB0), *range(0x6C, 0x70)))
_X86_STRING_SEGMENTS = {"(%rdi)": "%es:(%rdi)", "(%rsi)": "%ds:(%rsi)"}
# Encodings capstone names differently from GNU (padding between functions).
_GNU_SPELLING = {b"\x66\x90": "xchg   %ax,%ax"}
# The undefined instructions that take a ModRM operand pair in GNU's tables (0f ff /r, 0f b9
# /r) but none in capstone's, which ends them after the opcode: they are decoded as `imul
# Gv,Ev` (0f af /r), the same operand form and length, and renamed.
_X86_UD_WITH_MODRM = {0xFF: "ud0", 0xB9: "ud1"}
_X86_SAME_FORM = 0xAF


def _hex_number(match: re.Match[str]) -> str:
    sign, digits = match.groups()
    return f"{sign}{int(digits):#x}"


def _operands(text: str) -> list[str]:
    """Capstone's operands, split at the commas outside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    return [*out, tail] if tail else out


def _operand(op: str, zero_displacement: bool = False) -> str:
    """One operand in GNU's spelling (`zero_displacement`: the encoding holds a displacement
    of 0, which capstone leaves out and GNU writes)."""
    if op.startswith("$"):
        return _IMMEDIATE.sub(lambda m: "$" + _hex_number(m), op)
    op, brace, mask = op.partition("{")  # AVX-512's {%k1}{z}, written without spaces
    op, mask = op.rstrip(), (brace + mask).replace(" ", "")
    star = "*" if op.startswith("*") else ""
    op = op.removeprefix(star)
    if "(" in op:
        disp, _, inside = op.partition("(")
        segment, colon, disp = disp.rpartition(":")
        parts = [p.strip() for p in inside.rstrip(")").split(",")]
        if len(parts) == 2:
            parts.append("1")  # GNU writes the scale of an index
        if not disp and (zero_displacement or parts[0] == ""):
            disp = "0"  # an index without a base has a 32-bit displacement
        disp = _DECIMAL.sub(_hex_number, disp)
        return f"{star}{segment}{colon}{disp}({','.join(parts)}){mask}"
    segment, colon, rest = op.rpartition(":")  # `%fs:8`: an absolute address in a segment
    if not rest.startswith("%"):
        rest = _DECIMAL.sub(_hex_number, rest)
    return f"{star}{segment}{colon}{rest}{mask}"


# AArch64 (binutils' aarch64-dis.c). Condition codes: the name GNU prints, then the
# aliases its comments list (`b.ne ... // b.any`, `csel ..., ne // ne = any`).
_A64_CONDITIONS = {
    "eq": ("eq", "none"), "ne": ("ne", "any"), "hs": ("cs", "hs", "nlast"),
    "cs": ("cs", "hs", "nlast"), "lo": ("cc", "lo", "ul", "last"),
    "cc": ("cc", "lo", "ul", "last"), "mi": ("mi", "first"), "pl": ("pl", "nfrst"),
    "vs": ("vs",), "vc": ("vc",), "hi": ("hi", "pmore"), "ls": ("ls", "plast"),
    "ge": ("ge", "tcont"), "lt": ("lt", "tstop"), "gt": ("gt",), "le": ("le",),
    "al": ("al",), "nv": ("nv",),
}  # fmt: skip
# Instructions whose last operand is a condition (GNU comments on its aliases).
_A64_CONDITIONAL = frozenset(
    ("csel", "csinc", "csinv", "csneg", "cset", "csetm", "cinc", "cinv", "cneg", "ccmp",
     "ccmn", "fcsel", "fccmp", "fccmpe")
)  # fmt: skip
# Whose target is a code or data address: printed as one, with its symbol.
_A64_ADDRESSING = frozenset(("b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp"))
# Whose immediates GNU prints in hex (arithmetic, logical, move-wide, SIMD immediates,
# exception numbers except udf's); the others' (shifts, bit fields, bit numbers, load/store
# offsets) are decimal.
_A64_HEX = frozenset(
    ("add", "adds", "sub", "subs", "cmp", "cmn", "and", "ands", "orr", "eor", "tst",
     "movk", "movz", "movn", "svc", "hvc", "smc", "brk", "hlt", "ccmp", "ccmn",
     "movi", "mvni", "bic", "fccmp", "fccmpe")
)  # fmt: skip
# Whose bitmask immediates capstone writes signed (`#-0x8`) and GNU as the register's bits.
_A64_BITMASK = frozenset(("and", "ands", "orr", "eor", "tst"))
# Whose floating-point immediate GNU prints with printf's `%.18e` (capstone: `%.8f`).
_A64_FLOAT_IMMEDIATE = re.compile(r"#(-?\d+\.\d+)$")
_A64_FLOATING = frozenset(("fmov",))
_A64_IMMEDIATE = re.compile(r"#(-?)(0x[0-9a-f]+|\d+)\b")
_A64_BRACKETS = re.compile(r"\[[^\]]*\](?:, #-?(?:0x[0-9a-f]+|\d+))?")
_A64_LITERAL = re.compile(r"^#(0x[0-9a-f]+|0)$")


def _a64_number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def _a64_decimal(match: re.Match[str]) -> str:
    value = _a64_number(match.group(2))
    if value >> 63:  # capstone writes some negative offsets as 64-bit hex
        value -= 1 << 64
    return f"#{match.group(1)}{value}"


def _a64_hex(match: re.Match[str]) -> str:
    return f"#{match.group(1)}{_a64_number(match.group(2)):#x}"


def _a64_bitmask(bits: int) -> Callable[[re.Match[str]], str]:
    """Hex of a bitmask immediate as the `bits` of its register hold it."""

    def convert(match: re.Match[str]) -> str:
        value = _a64_number(match.group(2)) * (-1 if match.group(1) else 1)
        return f"#{value & ((1 << bits) - 1):#x}"

    return convert


def _aarch64(mnemonic: str, ops: str, describe: Describe) -> str:
    """One instruction in GNU's AArch64 spelling, from capstone's."""
    operands = [o.strip() for o in re.split(r",(?![^\[{]*[\]}])", ops)] if ops else []
    comment = ""
    if mnemonic.startswith("b.") and mnemonic[2:] in _A64_CONDITIONS:
        names = _A64_CONDITIONS[mnemonic[2:]]
        mnemonic = f"b.{names[0]}"
        if len(names) > 1:
            comment = "  // " + ", ".join(f"b.{n}" for n in names[1:])
    elif mnemonic in _A64_CONDITIONAL and operands and operands[-1] in _A64_CONDITIONS:
        names = _A64_CONDITIONS[operands[-1]]
        operands[-1] = names[0]
        if len(names) > 1:
            comment = f"\t// {names[0]} = {', '.join(names[1:])}"
    addressing = mnemonic in _A64_ADDRESSING or mnemonic.startswith("b.")
    literal = _A64_LITERAL.match(operands[-1]) if operands else None
    if literal and (addressing or ("[" not in ops and mnemonic.startswith(("ldr", "prfm")))):
        target = int(literal.group(1), 16)
        name = describe(target)
        operands[-1] = f"{target:#x}" + (f" <{name}>" if name else "")
    if mnemonic == "mov" and len(operands) == 2 and operands[1].startswith("#"):
        value = _a64_number(operands[1][1:].lstrip("-")) * (-1 if "#-" in operands[1] else 1)
        bits = 32 if operands[0].startswith("w") else 64
        value &= (1 << bits) - 1
        signed = value - (1 << bits) if value >> (bits - 1) else value
        operands[1] = f"#0x{value:<20x}"
        comment = f"\t// #{signed}"
    else:
        text = ", ".join(operands)
        # Offsets in brackets and post-index offsets are decimal in GNU's spelling.
        text = _A64_BRACKETS.sub(lambda m: _A64_IMMEDIATE.sub(_a64_decimal, m.group(0)), text)
        head, sep, rest = text.partition("[")
        shift = re.compile(r"((?:lsl|lsr|asr|ror|[su]xt[bhwx]|msl) )#")
        convert: Callable[[re.Match[str]], str] = _a64_hex if mnemonic in _A64_HEX else _a64_decimal
        if mnemonic in _A64_BITMASK:
            convert = _a64_bitmask(32 if operands[0].startswith("w") else 64)
        parts = re.split(r"(, (?:lsl|lsr|asr|ror|msl) #\d+)", head)
        head = "".join(p if shift.search(p) else _A64_IMMEDIATE.sub(convert, p) for p in parts)
        operands = [head + sep + rest] if text else []
    text = ", ".join(operands)
    if mnemonic in _A64_FLOATING:
        text = _A64_FLOAT_IMMEDIATE.sub(lambda m: f"#{float(m.group(1)):.18e}", text)
    return f"{mnemonic}\t{text}{comment}" if text else mnemonic


# RISC-V (binutils' riscv-dis.c with its aliases): compressed instructions print as the
# instruction they expand to; immediate forms take the register form's name.
_RV_COMPRESSED_TWO = {  # c.OP rd, x -> OP rd,rd,x
    "c.addi": "add", "c.addiw": "addw", "c.add": "add", "c.addw": "addw", "c.sub": "sub",
    "c.subw": "subw", "c.and": "and", "c.or": "or", "c.xor": "xor", "c.andi": "and",
    "c.slli": "sll", "c.srli": "srl", "c.srai": "sra", "c.addi16sp": "add",
}  # fmt: skip
_RV_RENAMED = {
    "c.addi4spn": "add", "c.unimp": "unimp", "c.li": "li", "c.lui": "lui", "c.mv": "mv",
    "c.ld": "ld", "c.lw": "lw", "c.sd": "sd", "c.sw": "sw", "c.fld": "fld", "c.fsd": "fsd",
    "c.ldsp": "ld", "c.lwsp": "lw", "c.sdsp": "sd", "c.swsp": "sw", "c.fldsp": "fld",
    "c.fsdsp": "fsd", "c.jalr": "jalr", "c.jr": "jr", "c.j": "j", "c.beqz": "beqz",
    "c.bnez": "bnez", "c.ebreak": "ebreak", "c.nop": "nop", "addi": "add", "andi": "and",
    "ori": "or", "xori": "xor", "slli": "sll", "srli": "srl", "srai": "sra", "addiw": "addw",
    "slliw": "sllw", "srliw": "srlw", "sraiw": "sraw",
    # binutils' opcode table lists `csrs csr,imm` (an alias) before `csrsi`, and so on.
    "csrwi": "csrw", "csrsi": "csrs", "csrci": "csrc", "csrrwi": "csrrw", "csrrsi": "csrrs",
    "csrrci": "csrrc",
}  # fmt: skip
# binutils' aliases of whole instructions, over capstone's operands once renamed: the first
# pattern that matches "mnemonic op,op,..." gives GNU's form.
_RV_ALIASES = tuple(
    (re.compile(pattern), form)
    for pattern, form in (
        (r"addw (\w+),(\w+),0", r"sext.w \1,\2"),
        (r"add (\w+),zero,(-?(?:0x[0-9a-f]+|\d+))", r"li \1,\2"),  # addi's, not add's
        (r"mv (\w+),zero", r"li \1,0"),
        (r"and (\w+),(\w+),0xff", r"zext.b \1,\2"),
        (r"jr ra", "ret"),
        (r"jalr zero,(\w+),(\S+)", r"jr \2(\1)"),
        (r"jalr ra,(\w+),(\S+)", r"jalr \2(\1)"),
        (r"jalr (\w+),(\w+),0", r"jalr \1,\2"),
        (r"jalr (\w+),(\w+),(\S+)", r"jalr \1,\3(\2)"),
        (r"(fsrmi|fsflagsi) ([^,]+)", r"\1 zero,\2"),
    )
)
_RV_HEX = frozenset(("lui", "auipc", "sll", "srl", "sra", "sllw", "srlw", "sraw"))
_RV_BRANCHES = frozenset(
    ("jal", "j", "beq", "bne", "blt", "bge", "bltu", "bgeu", "beqz", "bnez", "bltz", "bgez",
     "blez", "bgtz", "bgt", "ble", "bgtu", "bleu")
)  # fmt: skip
_RV_NUMBER = re.compile(r"^(-?)(0x[0-9a-f]+|\d+)(\(.*\))?$")


def _riscv(at: int, mnemonic: str, ops: str, describe: Describe) -> str:
    """One instruction in GNU's RISC-V spelling, from capstone's."""
    operands = [o.strip() for o in ops.split(",")] if ops else []
    if mnemonic in _RV_COMPRESSED_TWO and len(operands) == 2:
        mnemonic, operands = _RV_COMPRESSED_TWO[mnemonic], [operands[0], *operands]
    mnemonic = _RV_RENAMED.get(mnemonic, mnemonic)
    spelled = f"{mnemonic} {','.join(operands)}"
    for pattern, form in _RV_ALIASES:
        if pattern.fullmatch(spelled):
            mnemonic, _, rest = pattern.sub(form, spelled).partition(" ")
            operands = rest.split(",") if rest else []
            break
    branch = mnemonic in _RV_BRANCHES
    out = []
    for i, op in enumerate(operands):
        number = _RV_NUMBER.match(op)
        if number is None:
            out.append(op)
            continue
        sign, digits, base = number.groups()
        value = int(digits, 0) * (-1 if sign else 1)
        if branch and i == len(operands) - 1:
            target = (at + value) & ((1 << 64) - 1)
            name = describe(target)
            out.append(f"{target:#x}" + (f" <{name}>" if name else ""))
        elif mnemonic in _RV_HEX and base is None:
            out.append(f"{value:#x}")
        else:
            out.append(f"{value}{base or ''}")
    comment = ""
    tp_offset = re.fullmatch(r"(-?\d+)\(tp\)", out[-1]) if out else None
    if tp_offset is None and mnemonic == "add" and out[1:2] == ["tp"]:
        tp_offset = re.fullmatch(r"(-?\d+)()", out[-1])
    if tp_offset is not None:  # GNU shows a thread-pointer offset as an address too
        comment = f" # {int(tp_offset.group(1)) & ((1 << 64) - 1):#x}"
    return f"{mnemonic}\t{','.join(out)}{comment}" if out else mnemonic


_X86_LONGEST = 15  # bytes in the longest x86 instruction


def x86_undefined_with_modrm(code: bytes) -> tuple[str, bytes, int] | None:
    """For the ud0 or ud1 `code` starts with (after its prefixes): GNU's name for it, `code`
    with that opcode made imul's (so capstone decodes the operands at the same length) and
    where the opcode starts; None for any other instruction."""
    at = 0
    while at < len(code) and (code[at] in _X86_PREFIXES or 0x40 <= code[at] <= 0x4F):
        at += 1
    if len(code) < at + 2 or code[at] != 0x0F or code[at + 1] not in _X86_UD_WITH_MODRM:
        return None
    name = _X86_UD_WITH_MODRM[code[at + 1]]
    return name, code[: at + 1] + bytes([_X86_SAME_FORM]) + code[at + 2 :], at


def _x86_undecodable(code: bytes) -> tuple[int, str]:
    """(size, text) of GNU's `(bad)` for the x86 encoding `code` starts with: it spans the
    prefixes (legacy, REX, a VEX prefix's bytes), the 0f/0f38/0f3a escapes and the opcode,
    and names the prefixes (`data16 rex.W (bad)`)."""
    at, words = 0, []
    while at < len(code) - 1 and code[at] in _X86_PREFIXES:
        words.append(_X86_PREFIX_WORDS[code[at]])
        at += 1
    if 0x40 <= code[at] <= 0x4F:
        bits = "".join(name for bit, name in _X86_REX_BITS if code[at] & bit)
        words.append(f"rex.{bits}" if bits else "rex")
        at += 1
    if code[at] in _X86_VEX_LENGTHS:
        at += _X86_VEX_LENGTHS[code[at]]
    elif code[at] == 0x0F:
        at += 2 if code[at + 1] in (0x38, 0x3A) else 1
    return at + 1, " ".join([*words, "(bad)"])


def _riscv_length(low: int) -> int:
    """Bytes in the RISC-V instruction whose first 16 bits are `low` (binutils'
    riscv_insn_length, which also decides how much an undecodable one spans)."""
    if low & 0x3 != 0x3:
        return 2
    if low & 0x1F != 0x1F:
        return 4
    if low & 0x3F == 0x1F:
        return 6
    if low & 0x7F == 0x3F:
        return 8
    if low & 0x7F == 0x7F and low & 0x7000 != 0x7000:
        return 10 + ((low >> 11) & 0xE)
    return 2


class GdbDisassembler:
    """Decodes instructions and spells them as gdb does for one architecture."""

    def __init__(self, cs_arch: int, cs_mode: int) -> None:
        self.x86 = cs_arch == capstone.CS_ARCH_X86
        self.aarch64 = cs_arch == capstone.CS_ARCH_ARM64
        self.riscv = cs_arch == capstone.CS_ARCH_RISCV
        self.arm = cs_arch == capstone.CS_ARCH_ARM
        self.cs = capstone.Cs(cs_arch, cs_mode)
        self.flavor = FLAVORS[0]  # x86's syntax; set by `set disassembly-flavor`
        if self.x86:
            self.intel = capstone.Cs(cs_arch, cs_mode)  # its mnemonics carry no suffix
            self.cs.syntax = capstone.CS_OPT_SYNTAX_ATT
            self.cs.imm_unsigned = True  # GNU prints immediates as unsigned
            self.cs.detail = True  # where a displacement of 0 is encoded, GNU writes it

    def disassemble(
        self, code: bytes, addr: int, count: int, describe_within: Describe
    ) -> Iterator[tuple[int, str]]:
        """(address, text) of up to `count` instructions from `code` at `addr`, as x/i
        lists them (see `instructions`)."""
        for at, _size, text in self.instructions(code, addr, count, describe_within):
            yield at, text

    def instructions(
        self, code: bytes, addr: int, count: int, describe_within: Describe, spell: bool = True
    ) -> Iterator[tuple[int, int, str]]:
        """(address, size, text) of up to `count` instructions decoded from `code` at `addr`;
        bytes that decode to no instruction are shown as gdb shows them and skipped as it
        skips them, so the listing goes on after them. x/i and the disassembly pane both list
        code through here. Without `spell`, the same instructions with no text, found at a
        tenth of the cost (where the pane's rows start, from a function's start to the pc)."""
        decoded = self._decoded if spell else self._lengths
        offset = 0
        while count > 0 and offset < len(code):
            for at, size, text in decoded(code[offset:], addr + offset, count, describe_within):
                yield at, size, text
                offset += size
                count -= 1
            if count == 0 or offset >= len(code):
                return
            undecodable = self._undecodable(code[offset:])
            if undecodable is None:
                return  # the bytes end inside an instruction
            size, text = undecodable
            yield addr + offset, size, text
            offset += size
            count -= 1

    def _undecodable(self, code: bytes) -> tuple[int, str] | None:
        """(size, text) as binutils prints bytes no instruction starts with (`(bad)`,
        `.inst ... ; undefined`, `.2byte ...`), or None where `code` may end before the
        instruction does."""
        if self.x86:
            if len(code) < _X86_LONGEST:
                return None
            return _x86_undecodable(code)
        if self.aarch64:
            if len(code) < 4:
                return None
            return 4, f".inst\t{int.from_bytes(code[:4], 'little'):#010x} ; undefined"
        if self.riscv:
            if len(code) < 2:
                return None
            size = _riscv_length(int.from_bytes(code[:2], "little"))
            if len(code) < size:
                return None
            word = int.from_bytes(code[:size], "little")
            if size in (2, 4, 8):
                return size, f".{size}byte\t{word:#x}"
            return size, ".byte\t" + ", ".join(f"{b:#04x}" for b in code[:size])
        return None

    def _decoded(
        self, code: bytes, addr: int, count: int, describe: Describe
    ) -> Iterator[tuple[int, int, str]]:
        """(address, size, text) of the instructions capstone decodes from `addr`, up to the
        first bytes it cannot decode."""
        if self.x86:
            yield from self._decoded_x86(code, addr, count, describe)
            return
        for at, size, mnemonic, ops in self.cs.disasm_lite(code, addr, count):
            if self.aarch64:
                yield at, size, _aarch64(mnemonic, ops, describe)
            elif self.riscv:
                yield at, size, _riscv(at, mnemonic, ops, describe)
            else:  # Thumb (firmware): capstone's text, with the target's name as gdb adds it
                text = f"{mnemonic} {ops}".strip()
                target = thumb_branch_target(mnemonic, ops) if self.arm else None
                name = describe(target) if target is not None else ""
                yield at, size, f"{text} <{name}>" if name else text

    def _lengths(
        self, code: bytes, addr: int, count: int, _describe: Describe
    ) -> Iterator[tuple[int, int, str]]:
        """`_decoded`'s instructions without their text: capstone's sizes, x86's ud0 and ud1
        with their operands."""
        lite = self.intel if self.x86 else self.cs  # no details: sizes only
        offset = 0
        while count > 0:
            resume = None
            for at, size, _mnemonic, ops in lite.disasm_lite(code[offset:], addr + offset, count):
                undefined = x86_undefined_with_modrm(code[at - addr :]) if self.x86 else None
                if undefined is not None and not ops:
                    whole = next(lite.disasm_lite(undefined[1], at, 1), None)
                    if whole is None:
                        return  # the bytes end inside its operands
                    size = whole[1]
                    resume = at - addr + size
                yield at, size, ""
                count -= 1
                if resume is not None:
                    break
            if resume is None:
                return
            offset = resume

    def _decoded_x86(
        self, code: bytes, addr: int, count: int, describe: Describe
    ) -> Iterator[tuple[int, int, str]]:
        """`_decoded` on x86: capstone's instructions, its ud0 and ud1 decoded again with
        their operands and the listing resumed after those."""
        offset = 0
        while count > 0:
            resume = None
            for insn in self.cs.disasm(code[offset:], addr + offset, count):  # one decode each
                raw = bytes(insn.bytes)
                if raw in _GNU_SPELLING and self.flavor == "att":
                    text, size = _GNU_SPELLING[raw], insn.size
                elif insn.op_str == "" and x86_undefined_with_modrm(raw) is not None:
                    at = insn.address - addr
                    found = self._undefined_with_operands(code[at:], insn.address, describe)
                    if found is None:
                        return  # the bytes end inside its operands
                    size, text = found
                    resume = at + size
                elif self.flavor == "intel":
                    text, size = self._intel(raw, insn.address, describe), insn.size
                else:
                    intel = next(self.intel.disasm_lite(raw, insn.address), None)
                    text = self._gnu(insn, raw, intel[2] if intel else "", describe)
                    size = insn.size
                yield insn.address, size, text
                count -= 1
                if resume is not None:
                    break
            if resume is None:
                return
            offset = resume

    def _undefined_with_operands(
        self, code: bytes, addr: int, describe: Describe
    ) -> tuple[int, str] | None:
        """(size, text) of the ud0 or ud1 `code` starts with, spelled as GNU spells it
        (`ud0    0x8(%rax),%eax`, `repz ud0 %eax,%eax`); None where `code` ends first."""
        found = x86_undefined_with_modrm(code)
        assert found is not None, "called on a ud0 or ud1"
        name, same, at = found
        insn = next(self.cs.disasm(same, addr, 1), None)
        if insn is None:
            return None
        raw = bytes(insn.bytes)
        if self.flavor == "intel":
            text = self._intel(raw, addr, describe).replace("imul", name, 1)
            reps = [_X86_PREFIX_WORDS[b] for b in code[:at] if b in (0xF2, 0xF3)]
            return insn.size, " ".join([*reps, text])
        intel = next(self.intel.disasm_lite(raw, addr), None)
        text = self._gnu(insn, raw, intel[2] if intel else "", describe)
        head, _, operands = text.partition("imul")
        # Capstone drops a rep prefix imul ignores; GNU names it, as on any instruction.
        reps = [_X86_PREFIX_WORDS[b] for b in code[:at] if b in (0xF2, 0xF3)]
        mnemonic = " ".join([*head.split(), *reps, name])
        return insn.size, f"{mnemonic:<6} {operands.lstrip()}"

    def _intel(self, raw: bytes, addr: int, describe: Describe) -> str:
        """Capstone's Intel text of the instruction `raw` at `addr`, its direct target and
        %rip-relative address named as gdb names them."""
        found = next(self.intel.disasm_lite(raw, addr), None)
        if found is None:
            return ""
        _at, size, mnemonic, ops = found
        text = f"{mnemonic} {ops}".strip()
        target = _TARGET.match(ops)
        if target and mnemonic.startswith(("j", "call", "loop", "xbegin")):
            name = describe(int(target.group(1), 16))
            return f"{text} <{name}>" if name else text
        rip = _INTEL_RIP.search(ops)
        if rip:
            offset = int(rip.group(2), 0) * (-1 if rip.group(1) == "-" else 1)
            where = (addr + size + offset) & ((1 << 64) - 1)
            name = describe(where)
            text += f"        # {where:#x}" + (f" <{name}>" if name else "")
        return text

    def _gnu(self, insn: capstone.CsInsn, raw: bytes, intel: str, describe: Describe) -> str:
        *prefixes, mnemonic = insn.mnemonic.split()  # `rep stosl`: prefix words, then the op
        *_, intel = intel.split() or [""]
        operands = _operands(insn.op_str)
        if insn.opcode[0] in _X86_BY_ONE and operands[:1] == ["$1"]:
            operands = operands[1:]
        string = insn.opcode[0] in _X86_STRINGS
        words = self._prefix_words(raw, operands, string)
        if string:
            operands = [_X86_STRING_SEGMENTS.get(o, o) for o in operands]
            intel = mnemonic[:-1]
        x87 = _X87_OPERANDS.get(insn.opcode[0])
        if x87 and insn.modrm in x87[0] and operands and operands[-1].startswith("%st("):
            operands = x87[1].format(operands[-1]).split(",")
        if mnemonic in _X86_BYTE_IMMEDIATE:
            operands = [f"${int(o[1:], 0) & 0xFF}" if o.startswith("$") else o for o in operands]
        mnemonic = _X86_RENAMED.get(mnemonic, mnemonic)
        branch = mnemonic.startswith(("j", "call", "loop", "xbegin"))
        sized_by_register = any(o.startswith(("%", "*%")) and ":" not in o for o in operands)
        if (
            mnemonic[-1:] in _SUFFIXES
            and mnemonic[:-1] == intel
            and (sized_by_register or branch or not operands)
        ):
            mnemonic = intel
        mnemonic = _X86_UNSUFFIXED.get(mnemonic, mnemonic)
        mnemonic = " ".join([*words, *prefixes, mnemonic])
        comment = ""
        target = _TARGET.match(operands[0]) if branch and len(operands) == 1 else None
        zero = bool(insn.disp_offset) and insn.disp == 0
        text = ",".join(_operand(o, zero and not string) for o in operands)
        if target:
            name = describe(int(target.group(1), 16))
            text += f" <{name}>" if name else ""
        rip = _RIP.search(text)
        if rip:
            where = (insn.address + insn.size + int(rip.group(1), 16)) & ((1 << 64) - 1)
            name = describe(where)
            comment = f"        # {where:#x}" + (f" <{name}>" if name else "")
        if not text:
            return mnemonic
        return f"{mnemonic:<6} {text}{comment}"

    @staticmethod
    def _prefix_words(raw: bytes, operands: list[str], string: bool) -> list[str]:
        """GNU's names of the prefixes the instruction does not use, in encoding order;
        a null segment override is taken off the operand that capstone put it on."""
        prefixes = []
        for byte in raw:
            if byte not in _X86_PREFIXES:
                break
            prefixes.append(byte)
        words = []
        surplus = prefixes.count(0x66) - 1  # one operand-size prefix makes the `w` form
        for byte in prefixes:
            if byte == 0x66 and surplus > 0:
                words.append("data16")
                surplus -= 1
            elif byte == 0x67 and not any("(" in o for o in operands):
                words.append("addr32")  # an address size on an instruction without an address
        for i, op in enumerate(operands):
            segment = op[:4]
            if segment in _X86_NULL_SEGMENTS and not string:
                words.append(_X86_NULL_SEGMENTS[segment])
                operands[i] = op[4:]
        return words
