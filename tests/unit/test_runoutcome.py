"""One run outcome for every run loop: the guest's end, the end of the log, a divergence and
a platform failure are told apart the same way for the recorder, replayer and timeline."""

from __future__ import annotations

from tests.conftest import SAMPLES
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.runoutcome import RunOutcome, Why, classify
from ttdbg.errors import DivergenceError

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
