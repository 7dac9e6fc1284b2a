"""One run outcome for every run loop: the guest's end, the end of the log, a divergence and
a platform failure are told apart the same way for the recorder, replayer and timeline."""

from __future__ import annotations

from tests.conftest import SAMPLES
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.runoutcome import RunOutcome, Why, classify
from ttdbg.errors import DivergenceError, GuestFault

REC = open_recording(str(SAMPLES / "walk.ttrec"))


def test_a_replay_runs_to_a_count_then_to_the_guests_end() -> None:
    proc = new_replay_process(REC)
    assert proc.run(1000) == RunOutcome(Why.REACHED, 1000)
    ended = proc.run(1 << 40)
    assert ended.why == Why.EXITED
    assert ended.ended
    assert ended.icount == REC.last_known_icount
    assert proc.platform.exit_status == 0


def test_the_order_of_reasons_is_error_then_end_of_log_then_exit() -> None:
    diverged = DivergenceError(5, "the log", "rax differs")
    assert classify(5, True, False, diverged, object()).why == Why.DIVERGED
    assert classify(5, True, False, RuntimeError("x"), object()).why == Why.FAILED
    assert classify(5, True, True, None, object()).why == Why.END_OF_LOG
    assert classify(5, True, True, None, None).why == Why.EXITED
    assert classify(5, False, True, None, None) == RunOutcome(Why.STOPPED, 5)
    assert not classify(5, False, False, None, None).ended


def test_a_guest_fault_is_its_own_outcome_and_an_error() -> None:
    fault = GuestFault("read of 4 bytes at 0x10001000 at pc 0x80000004", 0x80000004)
    ran = classify(7, False, True, fault, None)
    assert ran.why == Why.GUEST_FAULT
    assert ran.failed
    assert ran.ended
    assert ran.error is fault
    assert classify(7, False, True, RuntimeError("x"), None).failed
    assert not classify(7, True, False, None, None).failed


def test_the_exit_travels_in_the_outcome() -> None:
    proc = new_replay_process(REC)
    ended = proc.run(1 << 40)
    assert (ended.exit_status, ended.exit_signal) == (0, None)
    assert proc.run(1000).why == Why.EXITED  # still ended


def test_a_restore_leaves_nothing_of_the_last_run() -> None:
    """After the guest ended, restoring a state from before its end runs again (the
    platform's reset clears the exit and the machine's halt), and reaches the same end."""
    proc = new_replay_process(REC)
    proc.run(500)
    start = proc.capture(proc.inputs.log.cursor)
    assert proc.run(1 << 40).why == Why.EXITED
    proc.restore(start)
    proc.inputs.log.cursor = start.cursor
    assert proc.platform.exit_status is None
    assert proc.run(1000) == RunOutcome(Why.REACHED, 1500)
    again = proc.run(1 << 40)
    assert again.why == Why.EXITED
    assert again.icount == REC.last_known_icount


def test_a_signal_caught_during_a_run_travels_in_the_outcome() -> None:
    """The recorder decides whether a snapshot may be taken here from the outcome: a signal
    from outside caught during the run is taken at this icount, after the run."""
    proc = new_replay_process(REC)
    assert not proc.run(100).signal_due
    proc.platform.host_signal = 2  # as the recorder's handler sets it
    ran = proc.run(100)
    assert ran.signal_due
    assert ran.why == Why.REACHED
