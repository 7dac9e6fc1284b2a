"""The brute-force oracle for the index: one forward replay from icount 0 with Python hooks on
every instruction and every write, calls recognised by what they do to the link register or
the stack, returns matched with one shadow stack per guest thread by where their return
address was (so `ret N` needs no special case); a call or return is finished before the
scheduler loads another thread's registers. What syscalls write is taken whole as the
platform writes it, attributed to the instruction the code hook saw last, and cut into the
index's 8-byte-aligned pieces here. A 16-byte register store (capstone's operands say which)
arrives as two 8-byte pieces and is joined into one write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import capstone
import unicorn

from ttdbg.backend.linux.platform import LinuxPlatform
from ttdbg.backend.machine import KernelWrite
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
    # icount, pc, addr, size, value (up to 16 bytes), syscall number (-1: an instruction's)
    writes: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)


def brute_force(rec: Recording) -> Truth:
    proc = new_replay_process(rec)
    m = proc.machine
    arch = m.arch
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    detail = capstone.Cs(arch.cs_arch, arch.cs_mode)
    detail.detail = True
    push = 8 if arch.name == "x86_64" else 0
    truth = Truth()
    stacks: dict[int, list[tuple[int, int]]] = {}  # tid -> [(call icount, sp it returns to)]
    assert isinstance(proc.platform, LinuxPlatform)
    threads = proc.platform.threads
    prev: list[Any] = []  # [icount, pc, kind, size, sp before a return] of the last one
    current = [0, 0, 0]  # icount, pc, whether the instruction stores a 16-byte register
    half = [False]  # the last write is a 16-byte store's low piece

    def stores_16(uc: unicorn.Uc, addr: int, size: int) -> bool:
        insn = next(detail.disasm(bytes(uc.mem_read(addr, size)), addr, 1))
        ops = insn.operands
        if arch.name == "x86_64":
            return bool(ops) and ops[0].type == capstone.CS_OP_MEM and ops[0].size == 16
        if arch.name == "aarch64" and insn.mnemonic in ("str", "stur", "stp", "stnp"):
            return insn.reg_name(ops[0].reg).startswith("q")
        return False

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
        stack = stacks.setdefault(threads.current, [])
        if kind == "maybe-call":
            kind = "call" if m.reg("ra") == pc + size else ""
        if kind == "call":
            truth.calls[icount] = {
                "icount": icount, "pc": pc, "target": next_pc, "sp": sp,
                "return_icount": None, "retval": None, "tid": threads.current,
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
        current[:] = [icount, addr, stores_16(uc, addr, size)]

    def on_write(
        uc: unicorn.Uc, _access: int, addr: int, size: int, value: int, _data: object
    ) -> None:
        value &= (1 << (8 * size)) - 1
        last = truth.writes[-1] if truth.writes else None
        was_half, half[0] = half[0], False
        wide = bool(current[2]) and size == 8
        same = last is not None and last[:2] == (current[0], current[1])
        if wide and was_half and same and last is not None and last[2] + 8 == addr:
            truth.writes[-1] = (*last[:3], 16, last[4] | value << 64, -1)
            return
        truth.writes.append((current[0], current[1], addr, size, value, -1))
        half[0] = wide

    def on_kernel_write(write: KernelWrite) -> None:
        # A signal frame's rows (no syscall's: -1) are at the icount and pc the platform
        # tells (test_sigframes checks the icount against the states before and after).
        nr = proc.platform.syscall_nr if write.signal is None else -1
        icount = current[0] if write.signal is None else write.icount
        pc = current[1] if write.signal is None else write.pc
        rows: list[list[int]] = []  # [addr, size, value], byte by byte, cut at multiples of 8
        for at, byte in enumerate(write.new, write.addr):
            if rows and at % 8:
                rows[-1][1] += 1
                rows[-1][2] |= byte << (8 * (rows[-1][1] - 1))
            else:
                rows.append([at, 1, byte])
        truth.writes.extend((icount, pc, a, n, v, nr) for a, n, v in rows)

    switch_to = threads.switch_to

    def finish_then_switch(tid: int) -> None:
        # The last instruction's effect is in the registers of the thread that ran it.
        if tid != threads.current and prev and prev[0] == m.icount - 1:
            finish(m.pc)
            prev.clear()
        switch_to(tid)

    threads.switch_to = finish_then_switch  # type: ignore[method-assign]
    m.kernel_write_listener = on_kernel_write
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
