"""Recorded CPU time counters: every counter read the guest executes (rdtsc, mrs cntvct_el0,
rdtime...) is answered through the platform's inputs, so replay sees the recorded values.

The instruction runs (Unicorn answers from the host) and its result is overwritten before the
next instruction: a Python code hook covers only each read and the instruction after it,
installed when a block containing one is first learned, so code without reads runs at full
speed. Unicorn has no RISC-V time CSR: rdtime raises an illegal-instruction exception, answered
here instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import unicorn

from .arch.counters import CodePattern, Counter, CounterRead
from .icount import Block

if TYPE_CHECKING:
    from .machine import Machine

SIGILL = 4

# (counter, icount of the read, its address) -> the value the guest sees.
CounterSource = Callable[[Counter, int, int], int]


class CounterReads:
    """Finds counter reads in the blocks the machine learns and answers each one once."""

    patterns: tuple[CodePattern, ...]

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.source: CounterSource = lambda counter, icount, pc: 0
        self._find = machine.arch.counter_reads
        self._sites: dict[int, CounterRead] = {}
        self._hooks: list[int] = []
        # The read whose instruction is about to run or has just run, until it is answered.
        self._pending: CounterRead | None = None
        # Called first in the hooks here, before anything looks at the platform's state.
        self.on_enter: Callable[[], None] = lambda: None
        # The native counter leaves blocks holding these to us (none: we see every block).
        self.patterns = machine.arch.counter_patterns
        if self._find is not None and self.patterns:
            machine.counter.add_scanner(self)
        elif self._find is not None:
            machine.counter.listeners.append(self)

    # -- finding them (a BlockScanner of the machine's block counter) ------------------------

    def learned(self, block: Block, code: bytes) -> None:
        assert self._find is not None
        for read in self._find(block.addr, code, block.insns):
            if read.addr in self._sites:
                continue
            self._sites[read.addr] = read
            after = read.addr + read.size  # the first byte of the next instruction
            self._hooks.append(
                self.m.uc.hook_add(unicorn.UC_HOOK_CODE, self._hook, None, read.addr, after)
            )
            # Hooks are compiled into translated code: translate both instructions again.
            self.m.uc.ctl_remove_cache(read.addr, after + 1)

    def forgot(self) -> None:
        for handle in self._hooks:
            self.m.uc.hook_del(handle)
        self._hooks.clear()
        self._sites.clear()
        self._pending = None

    # -- answering them ----------------------------------------------------------------------

    def _hook(self, uc: unicorn.Uc, address: int, size: int, _data: object) -> None:
        self.on_enter()
        pending = self._pending
        if pending is not None and address == pending.addr + pending.size:
            self._answer(pending, self.m.icount_at(address) - 1)
        # Set before the read runs; a run that stops in front of it leaves it to `settle`.
        read = self._pending = self._sites.get(address)
        if read is not None and read.counter in self.m.arch.counter_faults:
            self._pending = None
            detail = f"{read.counter.name.lower()} read from user space"
            self.m.raise_fault(SIGILL, address, detail, self.m.arch.illegal_code, address)

    @property
    def waiting(self) -> bool:
        """Whether a counter read ran whose answer is still owed."""
        return self._pending is not None

    def settle(self, icount: int) -> None:
        """Control is back outside the emulator at `icount`: answer a read that ran but whose
        next instruction's hook did not (the run stopped there, or another hook stopped it)."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        if self.m.pc == pending.addr + pending.size:
            self._answer(pending, icount - 1)

    def answer_trap(self, pc_after: int) -> bool:
        """An illegal-instruction exception, the pc past the instruction: answer it when the
        instruction is a counter read and return True; False leaves it a fault."""
        decode = self.m.arch.counter_trap
        if decode is None:
            return False
        addr = pc_after - 4
        try:
            word = int.from_bytes(self.m.read(addr, 4), "little")
        except unicorn.UcError:
            return False
        read = decode(addr, word)
        if read is None:
            return False
        icount = self.m.icount_at(pc_after)  # with the read retired; execution goes on there
        self.m.icount = icount
        self._pending = None  # its hook saw it start; answered here instead
        self._answer(read, icount - 1)
        return True

    def _answer(self, read: CounterRead, icount: int) -> None:
        value = self.source(read.counter, icount, read.addr)
        for reg, bits in read.registers(value).items():
            self.m.set_reg(reg, bits)
