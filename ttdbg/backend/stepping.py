"""Source-level moves built on the timeline: step over, finish, and their reverse forms.

They follow gdb's approach on x86-64: temporary breakpoints plus a stack-pointer check that
tells the current activation from recursive ones.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet

import capstone

from ttdbg.symbols import Symbols

from .cancel import CancelToken, Progress
from .stops import BreakpointHit, Reached, Stop
from .timeline import Timeline, TimelineError

MAX_INSN = 15


class Stepper:
    """Step over calls and run to a function's return, both directions."""

    def __init__(self, timeline: Timeline, symbols: Symbols) -> None:
        self.tl = timeline
        self.symbols = symbols
        arch = timeline.machine.arch
        self.cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self.cs.detail = False
        self.sp = arch.sp
        self.arch = arch

    def _insn(self, addr: int) -> tuple[int, str, str] | None:
        """(size, mnemonic, operands) of the instruction at `addr`."""
        try:
            code = self.tl.read_memory(addr, MAX_INSN)
        except TimelineError:
            return None
        for _a, size, mnem, ops in self.cs.disasm_lite(code, addr):
            return size, mnem, ops
        return None

    def _is_call(self, insn: tuple[int, str, str] | None) -> bool:
        return insn is not None and self.arch.is_call(insn[1], insn[2])

    def run_to(
        self,
        addrs: AbstractSet[int],
        forward: bool,
        accept: Callable[[], bool],
        progress: Progress | None,
        cancel: CancelToken | None,
    ) -> Stop:
        """Continue (or reverse-continue) with temporary breakpoints at `addrs` until a hit
        on one of them passes `accept`: then Reached (where `accept` left the timeline), as
        the move arrived rather than hit a breakpoint. Any other stop is returned as it is,
        among them the user's own breakpoints, at `addrs` too (gdb reports those)."""
        tl = self.tl
        temporary = addrs - tl.breakpoints
        for addr in temporary:
            tl.add_breakpoint(addr)
        try:
            while True:
                stop = (
                    tl.continue_(progress, cancel, shown=True)
                    if forward
                    else tl.reverse_continue(progress, cancel, shown=True)
                )
                if not isinstance(stop, BreakpointHit) or stop.address not in temporary:
                    return stop
                if accept():
                    return Reached(tl.position)
        finally:
            for addr in temporary:
                tl.remove_breakpoint(addr)

    def step_over(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        tl = self.tl
        insn = self._insn(tl.pc)
        if insn is None or not self._is_call(insn):
            return tl.stepi(True, cancel)
        sp0 = tl.register(self.sp)
        after = tl.pc + insn[0]
        return self.run_to({after}, True, lambda: tl.register(self.sp) >= sp0, progress, cancel)

    def reverse_step_over(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        tl = self.tl
        pc0, sp0 = tl.pc, tl.register(self.sp)
        stop = tl.stepi(False, cancel)
        insn = self._insn(tl.pc)
        if not isinstance(stop, Reached) or insn is None or not self.arch.is_return(*insn[1:]):
            return stop
        # We came back out of a call: go on back to the call instruction itself.
        call = self._call_before(pc0)
        if call is None:
            return stop
        return self.run_to({call}, False, lambda: tl.register(self.sp) == sp0, progress, cancel)

    def _call_before(self, ret_addr: int) -> int | None:
        for size in range(2, MAX_INSN + 1):
            insn = self._insn(ret_addr - size)
            if insn is not None and insn[0] == size and self._is_call(insn):
                return ret_addr - size
        return None

    def _function_rets(self, pc: int) -> set[int]:
        sym = self.symbols.lookup(pc)
        if sym is None or not sym.size:
            return set()
        try:
            code = self.tl.read_memory(sym.addr, sym.size)
        except TimelineError:
            return set()
        return {
            a for a, _s, m, o in self.cs.disasm_lite(code, sym.addr) if self.arch.is_return(m, o)
        }

    def finish(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        """Run until the current function returns, landing right after its call."""
        tl = self.tl
        rets = self._function_rets(tl.pc)
        if not rets:
            raise TimelineError("finish: no symbol with a size around the pc")
        sp0 = tl.register(self.sp)
        stop = self.run_to(rets, True, lambda: tl.register(self.sp) >= sp0, progress, cancel)
        return tl.stepi(True, cancel) if isinstance(stop, Reached) else stop

    def reverse_finish(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        """Run back to the call of the current function, landing on the call instruction."""
        tl = self.tl
        sym = self.symbols.lookup(tl.pc)
        if sym is None:
            raise TimelineError("reverse-finish: no symbol around the pc")
        if tl.pc != sym.addr:
            sp0 = tl.register(self.sp)
            stop = self.run_to(
                {sym.addr}, False, lambda: tl.register(self.sp) >= sp0, progress, cancel
            )
            if not isinstance(stop, Reached):
                return stop
        return tl.stepi(False, cancel)
