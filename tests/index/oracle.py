"""The brute-force oracle for the index: one forward replay from icount 0 with Python hooks on
every instruction and every write, calls recognised by what they do to the link register or
the stack, returns matched with one shadow stack over the whole run by where their return
address was (so `ret N` needs no special case)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import capstone
import unicorn

from ttdbg.backend.recording import Recording
from ttdbg.backend.replayer import new_replay_process

ARGS = {
    "x86_64": ("rdi", "rsi", "rdx", "rcx"),
    "aarch64": ("x0", "x1", "x2", "x3"),
    "riscv64": ("a0", "a1", "a2", "a3"),
}
RISCV_JUMPS = ("jal", "jalr", "c.jalr", "c.jal")


@dataclass
class Truth:
    writes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)


def brute_force(rec: Recording) -> Truth:
    proc = new_replay_process(rec)
    m = proc.machine
    arch = m.arch
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    push = 8 if arch.name == "x86_64" else 0
    truth = Truth()
    stack: list[tuple[int, int]] = []  # (call icount, sp it returns to)
    prev: list[Any] = []  # [icount, pc, kind, size, sp before a return] of the last one
    current = [0, 0]

    def kind_of(uc: unicorn.Uc, addr: int, size: int) -> str:
        insn = next(cs.disasm(bytes(uc.mem_read(addr, size)), addr, 1))
        mnem, ops = insn.mnemonic, insn.op_str
        if arch.name == "riscv64":
            # A jump that links through ra; which register it linked is checked afterwards.
            if mnem in RISCV_JUMPS:
                return "maybe-call"
            return "ret" if arch.is_return(mnem, ops) else ""
        if arch.is_call(mnem, ops):
            return "call"
        return "ret" if arch.is_return(mnem, ops) else ""

    def finish(next_pc: int) -> None:
        icount, pc, kind, size, sp_before = prev
        sp = m.reg(arch.sp)
        if kind == "maybe-call":
            kind = "call" if m.reg("ra") == pc + size else ""
        if kind == "call":
            truth.calls[icount] = {
                "icount": icount, "pc": pc, "target": next_pc, "sp": sp,
                "return_icount": None, "retval": None,
                **{f"arg{i}": m.reg(r) for i, r in enumerate(ARGS[arch.name])},
            }  # fmt: skip
            stack.append((icount, sp + push))
        elif kind == "ret":
            # Where the return address was, plus what a call pushed: the same for `ret N`.
            sp = sp_before + push
            while stack and stack[-1][1] < sp:
                stack.pop()
            if stack and stack[-1][1] == sp:
                call = truth.calls[stack.pop()[0]]
                call["return_icount"] = icount
                call["retval"] = m.reg(arch.syscall_abi.result)

    def on_code(uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        icount = m.icount_at(addr)
        if prev and prev[0] == icount - 1:
            finish(addr)
        kind = kind_of(uc, addr, size)
        prev[:] = [icount, addr, kind, size, m.reg(arch.sp) if kind == "ret" else 0]
        current[:] = [icount, addr]

    def on_write(
        uc: unicorn.Uc, _access: int, addr: int, size: int, value: int, _data: object
    ) -> None:
        truth.writes.append((current[0], current[1], addr, size, value & ((1 << (8 * size)) - 1)))

    m.uc.hook_add(unicorn.UC_HOOK_CODE, on_code)
    m.uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, on_write)
    m.uc.ctl_flush_tb()
    end = rec.last_known_icount
    while m.icount < end and m.halted is None:
        m.run(end - m.icount)
        assert proc.platform.error is None
    if prev and prev[0] == m.icount - 1 and m.halted is None:
        finish(m.pc)
    return truth
