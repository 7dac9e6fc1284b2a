"""Provenance: where a byte's value came from, hop by hop while each hop is a copy (a store of
a register, a register loaded from memory or moved from another register, a memory-to-memory
move), ending at a syscall's input (file or stdin and byte offset), a constant or a
computation. The writes come from the index (or a replay), each hop from replaying the one
instruction with capstone's operand details."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import capstone
import unicorn

from ttdbg.backend.eventlog import Event, EventKind
from ttdbg.backend.inputs import ReplayInputs
from ttdbg.backend.linux.signals import signal_name
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import Recording
from ttdbg.backend.replayer import new_replay_process, restore_replay_state

from .lookup import WriteIndex, WriteRow
from .offsets import (
    READS,
    Description,
    Reads,
    position_in_read,
    replayed_start,
    stated_start,
)

MAX_HOPS = 64
REGISTER_WINDOW = 200_000  # instructions looked back through for a register's last writer


@dataclass(frozen=True)
class Hop:
    """One step back: at `icount` the instruction at `pc` put the byte where it was asked."""

    icount: int
    pc: int
    text: str  # the instruction, disassembled
    what: str  # "memory 0x... byte" or "register rax byte 2"


@dataclass(frozen=True)
class Place:
    """Where the byte is at some moment: a memory address, or byte `byte` of a register."""

    addr: int = 0
    reg: str = ""
    byte: int = 0


Step = tuple[Hop, Place, int]  # the hop, where the byte was before it, and when


@dataclass(frozen=True)
class Origin:
    """The chain of copies, newest first, and where it ends."""

    hops: tuple[Hop, ...]
    end: str  # "syscall", "signal", "constant", "computation", "initial", "unknown"
    detail: str

    def describe(self) -> str:
        lines = [f"  icount {h.icount:>12,}  {h.pc:#x}  {h.text:<36} {h.what}" for h in self.hops]
        return "\n".join([*lines, f"  origin: {self.end}: {self.detail}"])


# Canonical 64-bit register for each x86-64 sub-register (byte offset 0 for all of them).
_X86_FAMILIES = {
    "rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
    "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
    "rbp": ("ebp", "bp", "bpl"), "rsp": ("esp", "sp", "spl"),
    **{f"r{i}": (f"r{i}d", f"r{i}w", f"r{i}b") for i in range(8, 16)},
}  # fmt: skip
_CANONICAL = {alias: reg for reg, aliases in _X86_FAMILIES.items() for alias in aliases}
_CANONICAL.update({f"w{i}": f"x{i}" for i in range(31)})
_ZERO = {"xzr", "wzr", "zero"}
_LOADS = {
    "x86_64": ("mov", "movzx", "movsx", "movsxd", "movabs", "pop", "movq", "movd"),
    "aarch64": ("ldr", "ldur", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrsw", "ldurb", "ldurh",
                "ldursb", "ldursh", "ldursw", "ldp", "ldpsw"),
    "riscv64": ("ld", "lw", "lwu", "lh", "lhu", "lb", "lbu", "c.ld", "c.lw", "c.ldsp", "c.lwsp"),
}  # fmt: skip
_MOVES = {
    "x86_64": ("mov", "movq", "movd"),
    "aarch64": ("mov",),
    "riscv64": ("mv", "c.mv"),
}
_CONSTANTS = {
    "x86_64": ("mov", "movabs"),
    "aarch64": ("mov", "movz", "movn"),
    "riscv64": ("li", "c.li", "lui", "c.lui"),
}


def canonical(name: str) -> str:
    return _CANONICAL.get(name, name)


_RISCV_NO_DEST = frozenset(
    (
        *("sb", "sh", "sw", "sd", "c.sw", "c.sd", "c.swsp", "c.sdsp", "fsw", "fsd", "c.fsd"),
        *("c.fsdsp", "beq", "bne", "blt", "bge", "bltu", "bgeu", "beqz", "bnez", "blez"),
        *("bgez", "bltz", "bgtz", "c.beqz", "c.bnez", "j", "c.j", "jr", "c.jr", "ret"),
        *("ecall", "ebreak", "fence"),
    )
)


def _written(insn: capstone.CsInsn) -> set[str]:
    """The registers (canonical names) an instruction writes."""
    try:
        _read, written = insn.regs_access()
        return {canonical(insn.reg_name(w)) for w in written}
    except capstone.CsError:
        # RISC-V in capstone 5 has no access lists: the destination is the first operand.
        if insn.mnemonic in ("jal", "jalr", "c.jal", "c.jalr"):
            return {"ra"}
        ops = insn.operands
        if insn.mnemonic in _RISCV_NO_DEST or not ops or ops[0].type != capstone.CS_OP_REG:
            return set()
        return {canonical(insn.reg_name(ops[0].reg))}


class _Replay:
    """A private replay of the recording, positioned exactly at any icount on request."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.proc: GuestProcess[ReplayInputs] = new_replay_process(rec)
        self.m = self.proc.machine
        arch = self.m.arch
        self.cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self.cs.detail = True

    def goto(self, icount: int) -> None:
        if not 0 <= self.m.icount <= icount or self.m.halted is not None:
            index = self.rec.snapshots.nearest(icount)
            assert index is not None
            restore_replay_state(
                self.proc, self.rec.snapshots.state(index), self.rec.exit_outcome()
            )
        elif (nearest := self.rec.snapshots.nearest(icount)) is not None:
            snap = self.rec.snapshots.entries[nearest].icount
            if snap > self.m.icount:
                restore_replay_state(
                    self.proc, self.rec.snapshots.state(nearest), self.rec.exit_outcome()
                )
        self.run_to(icount)

    def run_to(self, icount: int) -> None:
        """Replay forward to `icount`, or to the guest's end if it comes first; a divergence
        or a platform failure on the way is raised, never taken for a position."""
        while self.m.icount < icount:
            ran = self.proc.run(icount - self.m.icount)
            if ran.failed and ran.error is not None:
                raise ran.error
            if ran.ended:
                return

    def insn(self) -> capstone.CsInsn:
        pc = self.m.pc
        return next(self.cs.disasm(self.m.read(pc, 16), pc, 1))

    def step_reading(self) -> list[tuple[int, int]]:
        """Run the instruction at the position, returning the memory reads it made."""
        reads: list[tuple[int, int]] = []

        def on_read(_uc: unicorn.Uc, _a: int, addr: int, size: int, _v: int, _d: object) -> None:
            reads.append((addr, size))

        uc = self.m.uc
        hook = uc.hook_add(unicorn.UC_HOOK_MEM_READ, on_read)
        uc.ctl_flush_tb()
        try:
            self.run_to(self.m.icount + 1)
        finally:
            uc.hook_del(hook)
            uc.ctl_flush_tb()
        return reads

    def trace(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """(icount, pc) of every instruction in [lo, hi)."""
        self.goto(lo)
        seen: list[tuple[int, int]] = []
        m = self.m

        def on_code(_uc: unicorn.Uc, addr: int, _size: int, _d: object) -> None:
            seen.append((m.icount_at(addr), addr))

        hook = m.uc.hook_add(unicorn.UC_HOOK_CODE, on_code)
        m.uc.ctl_flush_tb()
        try:
            self.run_to(hi)
        finally:
            m.uc.hook_del(hook)
            m.uc.ctl_flush_tb()
        return [(i, pc) for i, pc in seen if lo <= i < hi]


class Provenance:
    """Follows a byte's value back through copies."""

    def __init__(self, rec: Recording, index: WriteIndex) -> None:
        self.rec = rec
        self.index = index
        self.replay = _Replay(rec)
        self.arch = self.replay.m.arch
        self._names = self.arch.syscall_names
        self._syscalls = [e for e in rec.events if e.kind == EventKind.SYSCALL and e.args]
        self._syscall_icounts = [e.icount for e in self._syscalls]

    def origin(self, addr: int, position: int) -> Origin:
        hops: list[Hop] = []
        where = Place(addr)
        at = position
        for _ in range(MAX_HOPS):
            if not where.reg:
                found = self.index.last_before([(where.addr, 1)], at, syscalls=True)
                if found is None:
                    return Origin(tuple(hops), "unknown", "the index does not cover this stretch")
                row = found.row
                if row is None:
                    return Origin(tuple(hops), "initial", f"{where.addr:#x} was never written: "
                                  "its value is from the program image or zero")  # fmt: skip
                if row.syscall is not None:
                    return Origin(tuple(hops), "syscall", self._syscall_input(where.addr, row))
                if row.signal is not None:
                    what = f"the frame of {signal_name(row.signal)} delivered at icount"
                    return Origin(tuple(hops), "signal", f"{what} {row.icount}")
                step = self._from_store(row, where.addr, len(found.earlier_same_instruction))
            else:
                step = self._from_register(where.reg, where.byte, at)
            if isinstance(step, Origin):
                return Origin((*hops, *step.hops), step.end, step.detail)
            hop, where, at = step
            hops.append(hop)
        return Origin(tuple(hops), "unknown", f"more than {MAX_HOPS} copies")

    def _syscall_input(self, addr: int, row: WriteRow) -> str:
        """The syscall that wrote `addr` (the index's row), described; a read()-like one with
        the file (or stdin) and the byte offset the byte came from."""
        assert row.syscall is not None
        name = self._names.get(row.syscall, f"syscall {row.syscall}")
        ev = next((e for e in self._events_at(row.icount) if e.args[:1] == (row.syscall,)), None)
        reads = READS.get(name)
        pos = None
        if ev is not None and reads is not None and ev.result > 0:
            pos = position_in_read(reads, ev, addr, self._memory_at(ev.icount))
        if ev is None or reads is None or pos is None:
            shown = ev.describe(self._names) if ev is not None else name
            return f"{shown} at icount {row.icount} wrote it"
        fd = ev.args[1]
        start = self._file_offset(ev, reads)
        self.replay.goto(ev.icount)
        opened = self.replay.proc.platform.fds.get(fd)
        what = "stdin" if fd == 0 else (opened.path if opened else f"fd {fd}")
        head = f"{name}({fd}) at icount {ev.icount}: {what}"
        if start is None:
            return (
                f"{head}, byte {pos} of the read (its file offset is not known: the recording "
                "does not say where an O_APPEND write before it ended)"
            )
        return f"{head} byte offset {start + pos}"

    def _memory_at(self, icount: int) -> Callable[[int, int], bytes]:
        """Guest memory as it is at `icount`; the replay goes there only when it is read (a
        vector read's iovecs), not for every read."""

        def read(addr: int, size: int) -> bytes:
            self.replay.goto(icount)
            return self.replay.m.read(addr, size)

        return read

    def _events_at(self, icount: int) -> list[Event]:
        i = bisect.bisect_left(self._syscall_icounts, icount)
        j = bisect.bisect_right(self._syscall_icounts, icount, i)
        return self._syscalls[i:j]

    def _description(self, call: Event, fd: int) -> Description | None:
        """The open-file description (ident, flags) `fd` names at `call`."""
        self.replay.goto(call.icount)
        opened = self.replay.proc.platform.fds.get(fd)
        return None if opened is None else (opened.ident, opened.flags)

    def _file_offset(self, ev: Event, reads: Reads) -> int | None:
        """Where in its file the read `ev` started: what the event says, else the offset of
        its open-file description replayed from the calls before it (see `offsets`)."""
        stated = stated_start(reads, ev)
        if stated is not None:
            return stated
        return replayed_start(ev, self._names, self._syscalls, self._description)

    def _from_store(self, row: WriteRow, addr: int, earlier: int) -> Origin | Step:
        r = self.replay
        r.goto(row.icount)
        insn = r.insn()
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        hop = Hop(row.icount, row.pc, text, f"wrote {addr:#x}")
        byte = addr - row.addr
        regs = [op for op in insn.operands if op.type == capstone.CS_OP_REG]
        imms = [op for op in insn.operands if op.type == capstone.CS_OP_IMM]
        mems = [op for op in insn.operands if op.type == capstone.CS_OP_MEM]
        if self.arch.name == "x86_64" and insn.mnemonic.startswith(("movs", "rep movs")):
            reads = r.step_reading()
            if reads:
                src, _size = reads[-1]
                return hop, Place(src + byte), row.icount
        if insn.mnemonic.startswith(("call", "bl")):
            return Origin((hop,), "computation", "a return address pushed by a call")
        if self.arch.name == "x86_64":
            sources = regs
        else:
            sources = regs[: len(regs) - (0 if mems else 1)] if regs else []
        if sources:
            source = sources[min(earlier, len(sources) - 1)]
            name = insn.reg_name(source.reg)
            if name in _ZERO:
                return Origin((hop,), "constant", "the zero register")
            return hop, Place(reg=canonical(name), byte=byte), row.icount
        if imms:
            return Origin((hop,), "constant", f"the immediate {imms[0].imm:#x} of {text}")
        return Origin((hop,), "computation", text)

    def _from_register(self, reg: str, byte: int, before: int) -> Origin | Step:
        r = self.replay
        lo = max(0, before - REGISTER_WINDOW)
        for icount, pc in reversed(r.trace(lo, before)):
            insn = next(r.cs.disasm(r.m.read(pc, 16), pc, 1))
            if reg not in _written(insn):
                continue
            text = f"{insn.mnemonic} {insn.op_str}".strip()
            hop = Hop(icount, pc, text, f"set {reg} byte {byte}")
            mnem = insn.mnemonic
            ops = insn.operands
            mems = [op for op in ops if op.type == capstone.CS_OP_MEM]
            regs = [op for op in ops if op.type == capstone.CS_OP_REG]
            imms = [op for op in ops if op.type == capstone.CS_OP_IMM]
            if mnem in ("syscall", "svc", "ecall"):
                return Origin((hop,), "syscall", f"the result of a syscall at icount {icount}")
            if self.arch.name == "riscv64" and mnem in ("addi", "addiw") and len(regs) == 2:
                source = canonical(insn.reg_name(regs[1].reg))
                immediate = imms[0].imm if imms else 0
                if source in _ZERO:
                    return Origin((hop,), "constant", f"the immediate {immediate:#x} of {text}")
                if immediate == 0 and mnem == "addi":
                    return hop, Place(reg=source, byte=byte), icount
            memory_operand = bool(mems) or mnem == "pop" or self.arch.name == "riscv64"
            if mnem in _LOADS[self.arch.name] and memory_operand:
                r.goto(icount)
                reads = r.step_reading()
                dests = [canonical(insn.reg_name(op.reg)) for op in regs]
                slot = dests.index(reg) if reg in dests else 0
                if slot < len(reads):
                    src, size = reads[slot]
                    if byte < size:
                        return hop, Place(src + byte), icount
                    return Origin((hop,), "constant", "zero or sign extension of a narrower load")
            if mnem in _MOVES[self.arch.name] and len(regs) == 2 and not imms and not mems:
                return hop, Place(reg=canonical(insn.reg_name(regs[1].reg)), byte=byte), icount
            if mnem in _CONSTANTS[self.arch.name] and imms and not mems:
                return Origin((hop,), "constant", f"the immediate {imms[-1].imm:#x} of {text}")
            if mnem == "xor" and len(regs) == 2 and regs[0].reg == regs[1].reg:
                return Origin((hop,), "constant", "zero (xor of a register with itself)")
            return Origin((hop,), "computation", text)
        return Origin(
            (), "unknown", f"{reg} was set more than {REGISTER_WINDOW:,} instructions before"
        )
