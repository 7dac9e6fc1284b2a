"""Step over and finish: arriving where the move goes is Reached; the user's own breakpoint
on the way (at the move's target too) is reported, as gdb reports it."""

from __future__ import annotations

from tests.conftest import SAMPLES
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stepping import Stepper
from ttdbg.backend.stops import BreakpointHit, Reached
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols

REC = open_recording(str(SAMPLES / "walk.ttrec"))


def _at_outer_depth() -> tuple[Timeline, Stepper, Symbols]:
    """At the first instruction of depth(3), the outermost of four activations."""
    tl = Timeline(REC)
    symbols = Symbols(REC.program_image, REC.program.load_bias)
    entry = symbols.by_name["depth"].addr
    tl.add_breakpoint(entry)
    stop = tl.continue_()
    tl.remove_breakpoint(entry)
    assert isinstance(stop, BreakpointHit)
    assert stop.address == entry
    return tl, Stepper(tl, symbols), symbols


def _returned_to(tl: Timeline, ret_addr: int, sp_after: int) -> int:
    """The oracle: one instruction at a time to the caller's return address at the caller's
    stack depth."""
    while not (tl.pc == ret_addr and tl.register(tl.machine.arch.sp) == sp_after):
        assert isinstance(tl.step(1), Reached)
    return tl.position


def test_finish_leaves_the_current_activation_not_a_recursive_one() -> None:
    tl, stepper, _symbols = _at_outer_depth()
    start, sp0 = tl.position, tl.register(tl.machine.arch.sp)
    ret_addr = int.from_bytes(tl.read_memory(sp0, 8), "little")
    want = _returned_to(tl, ret_addr, sp0 + 8)
    tl.seek(start)
    stop = stepper.finish()
    assert isinstance(stop, Reached)
    assert tl.position == want


def test_finish_stops_at_the_users_breakpoint_on_a_return() -> None:
    tl, stepper, _symbols = _at_outer_depth()
    sp0 = tl.register(tl.machine.arch.sp)
    rets = stepper._function_rets(tl.pc)
    assert rets
    for addr in rets:
        tl.add_breakpoint(addr)
    stop = stepper.finish()
    # The innermost activation returns first: gdb stops at the user's breakpoint there.
    assert isinstance(stop, BreakpointHit)
    assert stop.address in rets
    assert tl.register(tl.machine.arch.sp) < sp0


def test_step_over_reports_the_users_breakpoint_at_the_return_address() -> None:
    tl, stepper, _symbols = _at_outer_depth()
    # On to depth's recursive call instruction.
    while not stepper._is_call(stepper._insn(tl.pc)):
        tl.step(1)
    call = stepper._insn(tl.pc)
    assert call is not None
    after = tl.pc + call[0]
    start = tl.position
    arrived = stepper.step_over()
    assert isinstance(arrived, Reached)
    assert tl.pc == after
    tl.seek(start)
    tl.add_breakpoint(after)
    hit = stepper.step_over()
    # The inner activations return there first, with no stack check for a user's breakpoint.
    assert isinstance(hit, BreakpointHit)
    assert hit.address == after
    assert start < hit.icount < arrived.icount
    assert after in tl.breakpoints  # the user's breakpoint stays
