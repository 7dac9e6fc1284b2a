"""Why a run of the guest stopped: the one answer every run loop (recorder, replayer,
timeline) branches on, instead of each polling the platform's side-channel fields."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ttdbg.errors import DivergenceError, GuestFault


class Why(enum.Enum):
    """What ended a run of at most N instructions."""

    REACHED = "reached"  # it ran all N
    STOPPED = "stopped"  # a hook asked to stop early (breakpoint, watchpoint, search hit)
    EXITED = "exited"  # the guest ended (exit, fatal signal)
    END_OF_LOG = "end of log"  # replay: the log has nothing more to give
    DIVERGED = "diverged"  # replay: the guest did not do what the log says
    GUEST_FAULT = "guest fault"  # a CPU exception with nowhere to go (firmware)
    FAILED = "failed"  # the platform refused to go on (a guest or machine error)


# The outcomes that end a run with an error: nothing past them can be trusted or replayed.
_ERRORS = frozenset({Why.DIVERGED, Why.GUEST_FAULT, Why.FAILED})


@dataclass(frozen=True)
class RunOutcome:
    """Where a run stopped and why; `error` for DIVERGED, GUEST_FAULT and FAILED, the
    guest's exit status or fatal signal for EXITED; `signal_due` when a signal from outside
    was caught during the run and is taken at the next instruction boundary (recording)."""

    why: Why
    icount: int
    error: Exception | None = None
    exit_status: int | None = None
    exit_signal: int | None = None
    signal_due: bool = False

    @property
    def ended(self) -> bool:
        """No further run can go on from here."""
        return self.why not in (Why.REACHED, Why.STOPPED)

    @property
    def failed(self) -> bool:
        """The run ended with an error (`error` says which)."""
        return self.why in _ERRORS


def classify(
    icount: int,
    halted: bool,
    stopped: bool,
    error: Exception | None,
    end_of_log: object,
    exit_outcome: tuple[int | None, int | None] = (None, None),
    signal_due: bool = False,
) -> RunOutcome:
    """The outcome of a run from what the machine and platform say after it; an error comes
    first, then the end of the log, then the guest's end (the order every loop used)."""
    if error is not None:
        why = (
            Why.DIVERGED
            if isinstance(error, DivergenceError)
            else Why.GUEST_FAULT
            if isinstance(error, GuestFault)
            else Why.FAILED
        )
        return RunOutcome(why, icount, error, signal_due=signal_due)
    if end_of_log is not None:
        return RunOutcome(Why.END_OF_LOG, icount, signal_due=signal_due)
    if halted:
        return RunOutcome(Why.EXITED, icount, None, *exit_outcome, signal_due=signal_due)
    return RunOutcome(Why.STOPPED if stopped else Why.REACHED, icount, signal_due=signal_due)
