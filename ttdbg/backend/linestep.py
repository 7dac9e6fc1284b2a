"""Source-line moves as gdb makes them: step, next and until, forwards and in reverse.

A line move runs instruction moves until the pc is on another line (or the same line in
another activation); code without line info (libc, the loader) is left by `finish`, so a
`step` into printf comes back out as gdb's does. Forwards it range-steps as gdb does with a
target that supports it: the instructions of the pc's run of line-table rows are decoded
once, and a continue with temporary breakpoints on the ways out of that run (its branches,
calls, returns and traps, and the address past its end) replaces the single steps in
between; only those ways out are taken one instruction at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import capstone

from ttdbg.symbols import SourceLine, Symbols

from .cancel import CancelToken, Progress
from .stepping import Stepper
from .stops import BreakpointHit, Interrupted, Reached, Stop
from .timeline import Timeline, TimelineError

MAX_MOVES = 200_000  # instruction moves one line move may take before it gives up
MAX_RANGE = 4096  # bytes of one line's run of rows decoded for range stepping
# Instructions that may leave a straight run of code: the line step takes them one by one.
_LEAVING = (
    capstone.CS_GRP_JUMP,
    capstone.CS_GRP_CALL,
    capstone.CS_GRP_RET,
    capstone.CS_GRP_INT,
    capstone.CS_GRP_IRET,
    capstone.CS_GRP_BRANCH_RELATIVE,
)


class LineStepper:
    """step / next / until at source-line granularity, both directions."""

    def __init__(
        self,
        timeline: Timeline,
        stepper: Stepper,
        symbols: Symbols,
        before_forward: Callable[[], None] | None = None,
    ) -> None:
        self.tl = timeline
        self.stepper = stepper
        self.symbols = symbols
        self.sp = timeline.machine.arch.sp
        # Called before each instruction move forward (a view keeps the state before the
        # last one, to show what it changed).
        self.before_forward = before_forward or (lambda: None)
        arch = timeline.machine.arch
        self.cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
        self.cs.detail = True  # instruction groups tell the ways out of a run of code
        self._exits: dict[tuple[int, int, bytes], frozenset[int]] = {}

    def exits(self, pc: int) -> frozenset[int] | None:
        """The addresses where execution may leave the pc's run of line-table rows: its
        branches, calls, returns and traps, and the address past it; None where the run
        cannot be range-stepped (no line info, too long, code that does not decode)."""
        span = self.symbols.line_range(pc)
        if span is None or not span[0] <= pc < span[1] or span[1] - span[0] > MAX_RANGE:
            return None
        lo, hi = span
        try:
            code = self.tl.read_memory(lo, hi - lo)
        except TimelineError:
            return None
        key = (lo, hi, code)
        found = self._exits.get(key)
        if found is None:
            leaving = {hi}
            end = lo
            for insn in self.cs.disasm(code, lo):
                if any(insn.group(g) for g in _LEAVING):
                    leaving.add(insn.address)
                end = insn.address + insn.size
            if end != hi:
                return None  # undecodable bytes: step them one by one
            if len(self._exits) > 4096:
                self._exits.clear()
            found = self._exits[key] = frozenset(leaving)
        return found

    def _run_to_exit(self, cancel: CancelToken | None) -> Stop | None:
        """Forwards, with breakpoints on the ways out of the pc's run of rows: to the first
        one reached (None: the pc is on one already, or the run cannot be range-stepped)."""
        exits = self.exits(self.tl.pc)
        if exits is None or self.tl.pc in exits:
            return None
        stop = self.stepper.run_to(exits, True, lambda: True, None, cancel)
        if isinstance(stop, BreakpointHit) and stop.address in exits:
            return Reached(self.tl.position)
        return stop

    def _where(self) -> tuple[SourceLine | None, int]:
        """The line at the pc and the function it is in (its symbol's address)."""
        sym = self.symbols.lookup(self.tl.pc)
        return self.symbols.line_for(self.tl.pc), sym.addr if sym is not None else -1

    def _move(self, one: Callable[[], Stop], forward: bool, cancel: CancelToken | None) -> Stop:
        line0, fn0 = self._where()
        if line0 is None:
            raise TimelineError("no line information here: use stepi/nexti")
        sp0 = self.tl.register(self.sp)
        for _ in range(MAX_MOVES):
            if cancel is not None and cancel.cancelled:
                return Interrupted(self.tl.position)
            # Forwards, a continue to the next way out of the line's run where there is one.
            stop = self._run_to_exit(cancel) if forward else None
            if stop is None:
                if forward:
                    self.before_forward()
                stop = one()
            if not isinstance(stop, Reached):
                return stop  # the end of history, a breakpoint or watchpoint on the way
            line, fn = self._where()
            if line is None:
                # Code without line info, called from here: run out of it.
                if self.tl.register(self.sp) < sp0:
                    stop = self.stepper.finish() if forward else self.stepper.reverse_finish()
                    if not isinstance(stop, Reached | BreakpointHit):
                        return stop
                continue
            if line != line0 or fn != fn0:
                return stop if forward else self._to_line_start(one, line, fn)
        raise TimelineError(f"no other source line within {MAX_MOVES:,} instructions")

    def _to_line_start(self, one: Callable[[], Stop], line: SourceLine, fn: int) -> Stop:
        """Backwards, gdb stops at the first instruction of the line it reaches."""
        tl = self.tl
        while True:
            here = tl.position
            stop = one()
            if not isinstance(stop, Reached) or self._where() != (line, fn):
                return tl.seek(here)

    def step(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        return self._move(lambda: self.tl.step(1), True, cancel)

    def next(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        return self._move(lambda: self.stepper.step_over(None, cancel), True, cancel)

    def reverse_step(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        return self._move(lambda: self.tl.reverse_step(1), False, cancel)

    def reverse_next(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        return self._move(lambda: self.stepper.reverse_step_over(None, cancel), False, cancel)

    def until(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        """`next`, but never back to an earlier line of a loop: on until the pc is past."""
        pc0, sp0 = self.tl.pc, self.tl.register(self.sp)
        while True:
            stop = self.next(progress, cancel)
            if not isinstance(stop, Reached) or self.tl.register(self.sp) != sp0:
                return stop
            if self.tl.pc > pc0:
                return stop
