"""Instructions as gdb's `x/i` prints them: AT&T syntax in objdump's layout on x86.

Capstone's AT&T printer differs from GNU's in ways a gdb user notices: it always writes the
size suffix (`movl %edx, %eax`), small numbers in decimal (`$1`, `-4(%rbp)`), a space after
every comma and no scale of 1 (`(%rdi, %rdi)`), and it does not symbolize targets. GNU writes
the suffix only where no register gives the size, every number in hex, `(%rdi,%rdi,1)`, the
mnemonic padded to six columns, `<symbol+offset>` after direct targets and a `# address
<symbol>` comment after %rip-relative operands. Other architectures keep capstone's text.
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


class GdbDisassembler:
    """Decodes instructions and spells them as gdb does for one architecture."""

    def __init__(self, cs_arch: int, cs_mode: int) -> None:
        self.x86 = cs_arch == capstone.CS_ARCH_X86
        self.cs = capstone.Cs(cs_arch, cs_mode)
        if self.x86:
            self.intel = capstone.Cs(cs_arch, cs_mode)  # its mnemonics carry no suffix
            self.cs.syntax = capstone.CS_OPT_SYNTAX_ATT
            self.cs.imm_unsigned = True  # GNU prints immediates as unsigned

    def disassemble(
        self, code: bytes, addr: int, count: int, describe: Describe
    ) -> Iterator[tuple[int, str]]:
        """(address, text) of up to `count` instructions decoded from `code` at `addr`."""
        for at, size, mnemonic, ops in self.cs.disasm_lite(code, addr, count):
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
