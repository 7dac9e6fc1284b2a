"""Source-line moves as gdb makes them: step, next and until, forwards and in reverse.

A line move runs instruction moves until the pc is on another line (or the same line in
another activation); code without line info (libc, the loader) is left by `finish`, so a
`step` into printf comes back out as gdb's does. Forwards it range-steps as gdb does with a
target that supports it: the instructions of the pc's run of line-table rows are decoded
once, and a continue with temporary breakpoints on the ways out of that run (its branches,
calls, returns and traps, and the address past its end) replaces the single steps in
between; only those ways out are taken one instruction at a time. Backwards it is the mirror
image: a reverse-continue to the latest of the run's ways in (its first instruction, the
instruction after each call or trap in it, the direct branch targets in it from anywhere in
its function), then one instruction back. The function's indirect jumps (a switch's jump
table) could land anywhere: the reverse-continue stops at them too, and one that landed in
the run is a way in (one that landed elsewhere is passed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import capstone

from ttdbg.symbols import SourceLine, Symbols

from .cancel import CancelToken, Progress
from .stepping import Stepper
from .stops import BreakpointHit, Interrupted, Reached, Stop
from .timeline import Timeline, TimelineError

MAX_MOVES = 200_000  # instruction moves one line move may take before it gives up
MAX_RANGE = 4096  # bytes of one line's run of rows decoded for range stepping
MAX_FUNCTION = 1 << 16  # bytes of a function scanned for branches into a run
# Instructions that may leave a straight run of code: the line step takes them one by one.
_LEAVING = (
    capstone.CS_GRP_JUMP,
    capstone.CS_GRP_CALL,
    capstone.CS_GRP_RET,
    capstone.CS_GRP_INT,
    capstone.CS_GRP_IRET,
    capstone.CS_GRP_BRANCH_RELATIVE,
)


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Entries:
    """The ways into a run of line-table rows [lo, hi): `ways` that are known, and the
    function's indirect `jumps`, which may land anywhere in it."""

    lo: int
    hi: int
    ways: frozenset[int]
    jumps: frozenset[int]


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
        self._entries: dict[tuple[int, int, bytes], Entries | None] = {}

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

    def entries(self, pc: int) -> Entries | None:
        """The addresses where execution may come into the pc's run of line-table rows: its
        first instruction, the one after each call or trap in it, and the direct branch
        and call targets in it from its function; with the function's indirect jumps, which
        may land in it too. None where that cannot be known (no line info or symbol size,
        code that does not decode)."""
        span = self.symbols.line_range(pc)
        sym = self.symbols.lookup(pc)
        if span is None or sym is None or not sym.size or sym.size > MAX_FUNCTION:
            return None
        lo, hi = span
        if not (sym.addr <= lo <= pc < hi <= sym.addr + sym.size) or hi - lo > MAX_RANGE:
            return None
        try:
            code = self.tl.read_memory(sym.addr, sym.size)
        except TimelineError:
            return None
        key = (lo, hi, code)
        if key in self._entries:
            return self._entries[key]
        found = {lo}
        jumps = set()
        end = sym.addr
        for insn in self.cs.disasm(code, sym.addr):
            end = insn.address + insn.size
            calls = insn.group(capstone.CS_GRP_CALL) or insn.group(capstone.CS_GRP_INT)
            if calls and lo <= insn.address < hi:
                found.add(end)  # where a callee or a trap handler comes back to
            if not (insn.group(capstone.CS_GRP_JUMP) or insn.group(capstone.CS_GRP_CALL)):
                continue
            ops = insn.operands
            if ops and ops[-1].type == capstone.CS_OP_IMM:
                target = ops[-1].imm & ((1 << 64) - 1)
                if lo <= target < hi:
                    found.add(target)
            elif not insn.group(capstone.CS_GRP_CALL):
                jumps.add(insn.address)  # an indirect jump: it may land anywhere
        # (Bytes that do not decode end the loop early: data, padding of another kind.)
        known = end == sym.addr + sym.size
        if len(self._entries) > 4096:
            self._entries.clear()
        result = self._entries[key] = (
            Entries(lo, hi, frozenset(found), frozenset(jumps)) if known else None
        )
        return result

    def _run_through(self, forward: bool, cancel: CancelToken | None) -> Stop | None:
        """With breakpoints on the ways out of the pc's run of rows, to the first one reached
        (backwards: on the ways in, to the latest one passed). None: the pc is on one
        already, or the run cannot be range-stepped."""
        tl = self.tl
        pc = tl.pc
        if forward:
            marks = self.exits(pc)
            arrivals = marks
            accept: Callable[[], bool] = _always
        else:
            entries = self.entries(pc)
            marks = entries.ways | entries.jumps if entries is not None else None
            arrivals = entries.ways if entries is not None else None
            accept = partial(self._came_in, entries) if entries is not None else _always
        if marks is None or arrivals is None or pc in marks:
            return None
        stop = self.stepper.run_to(marks, forward, accept, None, cancel)
        # The user's breakpoint on a way out (backwards: in) is where the move goes anyway,
        # reached as single steps reach it; one on an indirect jump going back stops there.
        if isinstance(stop, BreakpointHit) and stop.address in arrivals:
            return Reached(tl.position)
        return stop

    def _came_in(self, entries: Entries) -> bool:
        """At a hit going backwards: a way in, or an indirect jump that lands in the run (then
        at its landing); an indirect jump that lands elsewhere is passed."""
        tl = self.tl
        if tl.pc in entries.ways:
            return True
        here = tl.position
        tl.step(1)
        if entries.lo <= tl.pc < entries.hi:
            return True
        tl.seek(here)
        return False

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
            # A continue to the next way out of the line's run (backwards: to the last way
            # in) where there is one.
            stop = self._run_through(forward, cancel)
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
        """Backwards, gdb stops at the first instruction of the line it reaches (found by
        going back to the run's ways in, then one instruction further)."""
        tl = self.tl
        while True:
            ranged = self._run_through(False, None)
            if ranged is not None and not isinstance(ranged, Reached):
                return ranged  # a breakpoint on the way back, the beginning of history
            here = tl.position
            stop = one()
            if not isinstance(stop, Reached) or self._where() != (line, fn):
                return tl.seek(here)

    def step(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        return self._move(lambda: self.tl.stepi(True, cancel), True, cancel)

    def next(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> Stop:
        return self._move(lambda: self.stepper.step_over(None, cancel), True, cancel)

    def reverse_step(
        self, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        return self._move(lambda: self.tl.stepi(False, cancel), False, cancel)

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
