"""Replay takes a logged choice at its icount, leaves a later one for later, and stops with a
divergence naming the icount of one a run went past (it would stay due for ever)."""

import pytest

from ttdbg.backend.eventlog import Event, EventKind, EventLogReader
from ttdbg.backend.inputs import ReplayInputs
from ttdbg.errors import DivergenceError

SWITCH = Event(EventKind.SWITCH, 100, (1, 2, 0))


def _never() -> Event | None:
    raise AssertionError("replay never chooses")


def test_a_choice_is_taken_at_its_icount_only() -> None:
    inputs = ReplayInputs(EventLogReader([SWITCH]))
    assert inputs.decide(EventKind.SWITCH, 99, _never) is None
    assert inputs.decide(EventKind.SERIAL, 100, _never) is None  # another kind's turn
    assert inputs.decide(EventKind.SWITCH, 100, _never) == SWITCH
    assert inputs.decide(EventKind.SWITCH, 101, _never) is None  # the log is over


def test_a_choice_a_run_went_past_is_a_divergence_naming_its_icount() -> None:
    inputs = ReplayInputs(EventLogReader([SWITCH]))
    with pytest.raises(DivergenceError, match=r"at icount 101: expected SWITCH at icount 100"):
        inputs.decide(EventKind.SWITCH, 101, _never)
    assert inputs.log.cursor == 0
