"""DWARF register numbers to ttdbg register names, per architecture (a table)."""

from __future__ import annotations

_X86_64 = (
    "rax",
    "rdx",
    "rcx",
    "rbx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    *tuple(f"r{i}" for i in range(8, 16)),
)
_RISCV = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)  # fmt: skip

# arch -> (number -> name, the return address column)
DWARF_REGISTERS: dict[str, tuple[dict[int, str], int]] = {
    "x86_64": ({**dict(enumerate(_X86_64)), 16: "rip"}, 16),
    "aarch64": ({**{i: f"x{i}" for i in range(31)}, 31: "sp"}, 30),
    "riscv64": (dict(enumerate(_RISCV)), 1),
}
