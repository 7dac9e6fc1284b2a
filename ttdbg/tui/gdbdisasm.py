"""Instructions as gdb's `x/i` prints them: binutils' spelling on x86, AArch64 and RISC-V.

Capstone's AT&T printer differs from GNU's in ways a gdb user notices: it always writes the
size suffix (`movl %edx, %eax`), small numbers in decimal (`$1`, `-4(%rbp)`), a space after
every comma and no scale of 1 (`(%rdi, %rdi)`), and it does not symbolize targets. GNU writes
the suffix only where no register gives the size, every number in hex, `(%rdi,%rdi,1)`, the
mnemonic padded to six columns, `<symbol+offset>` after direct targets and a `# address
<symbol>` comment after %rip-relative operands. On AArch64 and RISC-V capstone's operands are
respelled by instruction class (which immediates are hex, which decimal, condition aliases,
compressed RISC-V instructions as what they expand to, branch targets as addresses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import capstone

Describe = Callable[[int], str]  # address -> "symbol+offset" or ""

_DECIMAL = re.compile(r"(?<![\w$])(-?)(\d+)(?![\w])")  # a number capstone wrote in decimal
_IMMEDIATE = re.compile(r"\$(-?)(\d+)\b")
_RIP = re.compile(r"(-?0x[0-9a-f]+)\(%rip\)")
_TARGET = re.compile(r"^(0x[0-9a-f]+)$")
_SUFFIXES = "bwlq"
# Encodings capstone names differently from GNU (padding between functions).
_GNU_SPELLING = {b"\x66\x90": "xchg   %ax,%ax"}


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


def _operand(op: str) -> str:
    """One operand in GNU's spelling."""
    if op.startswith("$"):
        return _IMMEDIATE.sub(lambda m: "$" + _hex_number(m), op)
    if "(" in op:
        disp, _, inside = op.partition("(")
        parts = [p.strip() for p in inside.rstrip(")").split(",")]
        if len(parts) == 2:
            parts.append("1")  # GNU writes the scale of an index
        if parts[0] == "" and not disp:
            disp = "0"  # an index without a base has a 32-bit displacement
        disp = _DECIMAL.sub(_hex_number, disp)
        return f"{disp}({','.join(parts)})"
    return _DECIMAL.sub(_hex_number, op) if not op.startswith(("%", "*%")) else op


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
_A64_LITERAL = re.compile(r"^#(0x[0-9a-f]+)$")


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
        (r"add (\w+),zero,(\S+)", r"li \1,\2"),
        (r"mv (\w+),zero", r"li \1,0"),
        (r"and (\w+),(\w+),0xff", r"zext.b \1,\2"),
        (r"jr ra", "ret"),
        (r"jalr zero,(\w+),(\S+)", r"jr \2(\1)"),
        (r"jalr ra,(\w+),(\S+)", r"jalr \2(\1)"),
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


class GdbDisassembler:
    """Decodes instructions and spells them as gdb does for one architecture."""

    def __init__(self, cs_arch: int, cs_mode: int) -> None:
        self.x86 = cs_arch == capstone.CS_ARCH_X86
        self.aarch64 = cs_arch == capstone.CS_ARCH_ARM64
        self.riscv = cs_arch == capstone.CS_ARCH_RISCV
        self.cs = capstone.Cs(cs_arch, cs_mode)
        if self.x86:
            self.intel = capstone.Cs(cs_arch, cs_mode)  # its mnemonics carry no suffix
            self.cs.syntax = capstone.CS_OPT_SYNTAX_ATT
            self.cs.imm_unsigned = True  # GNU prints immediates as unsigned

    def disassemble(
        self, code: bytes, addr: int, count: int, describe_within: Describe
    ) -> Iterator[tuple[int, str]]:
        """(address, text) of up to `count` instructions decoded from `code` at `addr`."""
        describe = describe_within
        for at, size, mnemonic, ops in self.cs.disasm_lite(code, addr, count):
            if self.aarch64:
                yield at, _aarch64(mnemonic, ops, describe)
                continue
            if self.riscv:
                yield at, _riscv(at, mnemonic, ops, describe)
                continue
            if not self.x86:
                yield at, f"{mnemonic} {ops}".strip()
                continue
            raw = code[at - addr : at - addr + size]
            if raw in _GNU_SPELLING:
                yield at, _GNU_SPELLING[raw]
                continue
            intel = next(self.intel.disasm_lite(raw, at), None)
            yield at, self._gnu(at + size, mnemonic, ops, intel[2] if intel else "", describe)

    def _gnu(self, after: int, mnemonic: str, ops: str, intel: str, describe: Describe) -> str:
        operands = _operands(ops)
        branch = mnemonic.startswith(("j", "call", "loop"))
        sized_by_register = any(o.startswith(("%", "*%")) for o in operands)
        if (
            mnemonic[-1:] in _SUFFIXES
            and mnemonic[:-1] == intel
            and (sized_by_register or branch or not operands)
        ):
            mnemonic = intel
        comment = ""
        target = _TARGET.match(operands[0]) if branch and len(operands) == 1 else None
        text = ",".join(_operand(o) for o in operands)
        if target:
            name = describe(int(target.group(1), 16))
            text += f" <{name}>" if name else ""
        rip = _RIP.search(ops)
        if rip:
            where = (after + int(rip.group(1), 16)) & ((1 << 64) - 1)
            name = describe(where)
            comment = f"        # {where:#x}" + (f" <{name}>" if name else "")
        if not text:
            return mnemonic
        return f"{mnemonic:<6} {text}{comment}"
