"""Which instructions read a CPU time counter, per architecture, and where the value goes."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

MASK64 = (1 << 64) - 1


class Counter(enum.IntEnum):
    """A time counter a guest reads without a syscall; its number in COUNTER events."""

    TSC = 1  # x86-64 rdtsc
    TSCP = 2  # x86-64 rdtscp (also TSC_AUX in ecx)
    CNTVCT = 3  # AArch64 cntvct_el0
    CNTPCT = 4  # AArch64 cntpct_el0
    TIME = 5  # RISC-V rdtime
    CYCLE = 6  # RISC-V rdcycle
    INSTRET = 7  # RISC-V rdinstret: the guest's own icount, not an input


@dataclass(frozen=True)
class CodePattern:
    """Bytes that may begin a counter read: `length` bytes, little-endian, at any offset that
    is a multiple of `stride`, masked with `mask`, equal to `value`. The native block counter
    leaves a block holding one to Python, which finds and hooks the reads; it learns the rest
    itself. A superset of the reads is fine (such a block is only learned more slowly)."""

    value: int
    mask: int
    length: int
    stride: int

    def matches(self, code: bytes) -> bool:
        """Whether `code` (a block's bytes) holds the pattern, as the native counter checks."""
        for off in range(0, len(code) - self.length + 1, self.stride):
            word = int.from_bytes(code[off : off + self.length], "little")
            if word & self.mask == self.value:
                return True
        return False


@dataclass(frozen=True)
class CounterRead:
    """One counter-reading instruction: where it is, how long, and which registers receive
    which bits of the value (register, shift, mask)."""

    counter: Counter
    addr: int
    size: int
    writes: tuple[tuple[str, int, int], ...]

    def registers(self, value: int) -> dict[str, int]:
        """The destination registers' new values for a counter value."""
        return {reg: (value >> shift) & mask for reg, shift, mask in self.writes}


# x86-64: edx:eax receive the counter; rdtscp also writes TSC_AUX (cpu 0, node 0) to ecx.
_LOW32 = 0xFFFFFFFF
_X86_READS = {
    b"\x0f\x31": (Counter.TSC, (("rax", 0, _LOW32), ("rdx", 32, _LOW32))),
    b"\x0f\x01\xf9": (Counter.TSCP, (("rax", 0, _LOW32), ("rdx", 32, _LOW32), ("rcx", 0, 0))),
}


X86_COUNTER_PATTERNS = tuple(
    CodePattern(int.from_bytes(op, "little"), (1 << 8 * len(op)) - 1, len(op), 1)
    for op in _X86_READS
)


def x86_counter_reads(addr: int, code: bytes, insns: tuple[int, ...]) -> list[CounterRead]:
    """rdtsc and rdtscp among a block's instructions."""
    if b"\x0f\x31" not in code and b"\x0f\x01\xf9" not in code:
        return []  # the common case, decided without a loop
    found = []
    for at in insns:
        off = at - addr
        for opcode, (counter, writes) in _X86_READS.items():
            if code[off : off + len(opcode)] == opcode:
                found.append(CounterRead(counter, at, len(opcode), writes))
    return found


# AArch64 `mrs Xt, <counter>`: the encoding with Rt (bits 0-4) cleared.
_A64_READS = {
    0xD53BE040: Counter.CNTVCT,
    0xD53BE020: Counter.CNTPCT,
    0xD53BE0C0: Counter.CNTVCT,  # cntvctss_el0 (self-synchronised, Armv8.6)
    0xD53BE0A0: Counter.CNTPCT,  # cntpctss_el0
}


A64_COUNTER_PATTERNS = tuple(CodePattern(enc, 0xFFFFFFE0, 4, 4) for enc in _A64_READS)


def aarch64_counter_reads(addr: int, code: bytes, insns: tuple[int, ...]) -> list[CounterRead]:
    """mrs of cntvct_el0 / cntpct_el0 among a block's instructions."""
    found = []
    for at in insns:
        off = at - addr
        (word,) = struct.unpack_from("<I", code, off)
        counter = _A64_READS.get(word & ~0x1F)
        if counter is not None and word & 0x1F != 31:  # Rt 31 is xzr: nothing to write
            found.append(CounterRead(counter, at, 4, ((f"x{word & 0x1F}", 0, MASK64),)))
    return found


# RISC-V: csrrs/csrrc/csrrsi/csrrci with x0 / 0 as the source only read the CSR.
_RV_CSRS = {0xC01: Counter.TIME, 0xC00: Counter.CYCLE, 0xC02: Counter.INSTRET}
_RV_READ_FUNCT3 = (2, 3, 6, 7)


# A read-only csrrs/csrrc/csrrsi/csrrci (funct3 bit 1 set, rs1 0) of CSRs 0xC00-0xC03, at any
# 2-byte boundary (compressed code): covers cycle, time and instret.
RV_COUNTER_PATTERNS = (
    CodePattern(0x73 | 1 << 13 | 0xC00 << 20, 0x7F | 1 << 13 | 0x1F << 15 | 0xFFC << 20, 4, 2),
)


def riscv_counter_read(addr: int, word: int, abi_names: tuple[str, ...]) -> CounterRead | None:
    """The counter read that the instruction `word` at `addr` is, if it is one."""
    if word & 0x7F != 0x73 or (word >> 12) & 7 not in _RV_READ_FUNCT3 or (word >> 15) & 0x1F:
        return None
    counter = _RV_CSRS.get(word >> 20)
    if counter is None:
        return None
    rd = (word >> 7) & 0x1F
    writes = ((abi_names[rd], 0, MASK64),) if rd else ()
    return CounterRead(counter, addr, 4, writes)


def riscv_counter_reads(
    addr: int, code: bytes, insns: tuple[int, ...], abi_names: tuple[str, ...]
) -> list[CounterRead]:
    """rdtime, rdcycle and rdinstret among a block's instructions (2 or 4 bytes long)."""
    found = []
    for at in insns:
        off = at - addr
        if off + 4 <= len(code):
            read = riscv_counter_read(at, int.from_bytes(code[off : off + 4], "little"), abi_names)
            if read is not None:
                found.append(read)
    return found
