"""Where a direct call, jump or branch goes, read from capstone's text of the instruction."""

from __future__ import annotations

import re
from collections.abc import Callable

import capstone

_ADDRESS = re.compile(r"^#?(0x[0-9a-f]+)$")
_OFFSET = re.compile(r"^(-?(?:0x[0-9a-f]+|\d+))$")
_RISCV_BRANCHES = {
    "j", "jal", "c.j", "c.jal", "c.beqz", "c.bnez", "beq", "bne", "blt", "bge", "bltu", "bgeu",
    "beqz", "bnez", "blez", "bgez", "bltz", "bgtz", "bgt", "ble", "bgtu", "bleu",
}  # fmt: skip
_AARCH64_BRANCHES = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz"}


def _x86(addr: int, mnemonic: str, operands: str) -> int | None:
    found = _ADDRESS.match(operands) if mnemonic.startswith(("call", "j")) else None
    return int(found.group(1), 16) if found else None


def _aarch64(addr: int, mnemonic: str, operands: str) -> int | None:
    if mnemonic not in _AARCH64_BRANCHES and not mnemonic.startswith("b."):
        return None
    found = _ADDRESS.match(operands.rsplit(",", 1)[-1].strip())
    return int(found.group(1), 16) if found else None


def _arm(addr: int, mnemonic: str, operands: str) -> int | None:
    """Thumb: b, bl, b<cond>, their .w forms (one operand) and cbz/cbnz (the last)."""
    if mnemonic.startswith("cb"):
        operands = operands.rsplit(",", 1)[-1].strip()
    found = _ADDRESS.match(operands) if mnemonic.startswith(("b", "cb")) else None
    return int(found.group(1), 16) if found else None


def _riscv(addr: int, mnemonic: str, operands: str) -> int | None:
    """Capstone writes RISC-V targets as offsets from the instruction (`jal -0x108`)."""
    if mnemonic not in _RISCV_BRANCHES:
        return None
    found = _OFFSET.match(operands.rsplit(",", 1)[-1].strip())
    return addr + int(found.group(1), 0) if found else None


_BY_ARCH: dict[int, Callable[[int, str, str], int | None]] = {
    capstone.CS_ARCH_X86: _x86,
    capstone.CS_ARCH_ARM64: _aarch64,
    capstone.CS_ARCH_ARM: _arm,
    capstone.CS_ARCH_RISCV: _riscv,
}


def branch_target(cs_arch: int, addr: int, mnemonic: str, operands: str) -> int | None:
    """The address the instruction at `addr` transfers control to, when it names one."""
    decode = _BY_ARCH.get(cs_arch)
    return decode(addr, mnemonic, operands) if decode is not None else None
