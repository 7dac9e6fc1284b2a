"""Which instructions are calls and returns, per architecture, from their encoding."""

from __future__ import annotations

from collections.abc import Callable

import capstone

from ttdbg.backend.arch import Arch

OTHER, CALL, RETURN = 0, 1, 2

Classifier = Callable[[capstone.CsInsn], int]
Kind = tuple[int, int]  # (OTHER, CALL or RETURN; stack bytes a return releases past its address)

_AARCH64_CALLS = frozenset({"bl", "blr", "blraa", "blraaz", "blrab", "blrabz"})
_AARCH64_RETURNS = frozenset({"ret", "retaa", "retab"})
RA = 1  # x1, the RISC-V link register


def _x86_64(insn: capstone.CsInsn) -> int:
    if insn.mnemonic.startswith("call"):
        return CALL
    return RETURN if insn.mnemonic in ("ret", "retq") else OTHER


def _aarch64(insn: capstone.CsInsn) -> int:
    if insn.mnemonic in _AARCH64_CALLS:
        return CALL
    return RETURN if insn.mnemonic in _AARCH64_RETURNS else OTHER


def _riscv64(insn: capstone.CsInsn) -> int:
    """jal/jalr with rd = ra are calls, jalr x0, 0(ra) a return; read from the encoding
    (capstone puts every jump in its call group)."""
    raw = int.from_bytes(insn.bytes, "little")
    if len(insn.bytes) == 2:
        funct4, rs1, rs2, op = raw >> 12, (raw >> 7) & 31, (raw >> 2) & 31, raw & 3
        if op == 2 and rs2 == 0 and rs1 != 0:
            if funct4 == 0b1001:
                return CALL  # c.jalr rs1: links through ra
            if funct4 == 0b1000 and rs1 == RA:
                return RETURN  # c.jr ra
        return OTHER
    opcode, rd, rs1 = raw & 0x7F, (raw >> 7) & 31, (raw >> 15) & 31
    if opcode in (0x6F, 0x67) and rd == RA:
        return CALL
    if opcode == 0x67 and rd == 0 and rs1 == RA and raw >> 20 == 0:
        return RETURN
    return OTHER


CLASSIFIERS: dict[str, Classifier] = {"x86_64": _x86_64, "aarch64": _aarch64, "riscv64": _riscv64}

# The first four integer argument registers of the function-call ABI (calls.arg0..arg3).
CALL_ARGS: dict[str, tuple[str, str, str, str]] = {
    "x86_64": ("rdi", "rsi", "rdx", "rcx"),
    "aarch64": ("x0", "x1", "x2", "x3"),
    "riscv64": ("a0", "a1", "a2", "a3"),
}

# Bytes a call pushes: the stack pointer a call returns to is its callee's entry sp plus this.
CALL_PUSH: dict[str, int] = {"x86_64": 8, "aarch64": 0, "riscv64": 0}


# x86-64 opcodes of SSE stores from a register (movups/movupd/movss/movsd 0F 11, movaps/movapd
# 0F 29, movntps/movntpd 0F 2B, movdqa/movdqu/MMX movq 0F 7F, movntdq/movntq 0F E7): a block
# without one of these byte pairs stores no 16-byte register, decided without decoding it.
_X86_WIDE_OPCODES = (b"\x0f\x11", b"\x0f\x29", b"\x0f\x2b", b"\x0f\x7f", b"\x0f\xe7")
_AARCH64_PAIR_STORES = frozenset({"str", "stur", "stp", "stnp"})


def _aarch64_may_store_vector(word: int) -> bool:
    """Loads and stores of SIMD&FP registers (op0 x1x1 with V set, L clear): the only
    encodings that can store a q register."""
    return (word >> 26) & 1 == 1 and (word >> 27) & 5 == 5 and (word >> 22) & 1 == 0


class BlockClassifier:
    """The kind (call, return, other) of a block's last instruction, and which of its
    instructions store a 16-byte register."""

    def __init__(self, arch: Arch) -> None:
        self._cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self._detail = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self._detail.detail = True
        self._classify = CLASSIFIERS[arch.name]
        self._arch = arch.name

    def wide_stores(self, code: bytes, addr: int, insns: tuple[int, ...]) -> int:
        """A mask with bit i set when instruction i (of the first 64) stores a 16-byte
        register whole: Unicorn reports it as two 8-byte pieces, the index as one row."""
        mask = 0
        if self._arch == "x86_64":
            if not any(op in code for op in _X86_WIDE_OPCODES):
                return 0
            for i, at in enumerate(insns[:64]):
                for insn in self._detail.disasm(code[at - addr :], at, 1):
                    ops = insn.operands
                    if ops and ops[0].type == capstone.CS_OP_MEM and ops[0].size == 16:
                        mask |= 1 << i
        elif self._arch == "aarch64":
            for i, at in enumerate(insns[:64]):
                word = int.from_bytes(code[at - addr : at - addr + 4], "little")
                if not _aarch64_may_store_vector(word):
                    continue
                for _a, _s, mnemonic, op_str in self._cs.disasm_lite(code[at - addr :], at, 1):
                    if mnemonic in _AARCH64_PAIR_STORES and op_str.startswith("q"):
                        mask |= 1 << i
        return mask

    def last_kind(self, code: bytes, addr: int, last: int) -> Kind:
        """The kind of the instruction at `last` in the block `code` at `addr`, and for a
        return the bytes it releases past the return address (x86-64 `ret N`: N)."""
        for insn in self._cs.disasm(code[last - addr :], last, 1):
            kind = self._classify(insn)
            return kind, (released(insn) if kind == RETURN else 0)
        return OTHER, 0


def released(insn: capstone.CsInsn) -> int:
    """The immediate of an x86 `ret N` (0 for a plain return on every architecture)."""
    if insn.mnemonic in ("ret", "retq") and insn.op_str:
        return int(insn.op_str, 0)
    return 0
