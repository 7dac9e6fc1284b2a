"""Why a run of the guest stopped: the one answer every run loop (recorder, replayer,
timeline) branches on, instead of each polling the platform's side-channel fields."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ttdbg.errors import DivergenceError


class Why(enum.Enum):
    """What ended a run of at most N instructions."""

    REACHED = "reached"  # it ran all N
    STOPPED = "stopped"  # a hook asked to stop early (breakpoint, watchpoint, search hit)
    EXITED = "exited"  # the guest ended (exit, fatal signal)
    END_OF_LOG = "end of log"  # replay: the log has nothing more to give
    DIVERGED = "diverged"  # replay: the guest did not do what the log says
    FAILED = "failed"  # the platform refused to go on (a guest or machine error)


@dataclass(frozen=True)
class RunOutcome:
    """Where a run stopped and why; `error` for DIVERGED and FAILED."""

    why: Why
    icount: int
    error: Exception | None = None

    @property
    def ended(self) -> bool:
        """No further run can go on from here."""
        return self.why not in (Why.REACHED, Why.STOPPED)


def classify(
    icount: int, halted: bool, stopped: bool, error: Exception | None, end_of_log: object
) -> RunOutcome:
    """The outcome of a run from what the machine and platform say after it; an error comes
    first, then the end of the log, then the guest's end (the order every loop used)."""
    if error is not None:
        why = Why.DIVERGED if isinstance(error, DivergenceError) else Why.FAILED
        return RunOutcome(why, icount, error)
    if end_of_log is not None:
        return RunOutcome(Why.END_OF_LOG, icount)
    if halted:
        return RunOutcome(Why.EXITED, icount)
    return RunOutcome(Why.STOPPED if stopped else Why.REACHED, icount)
