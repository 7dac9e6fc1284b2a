"""Replay a recording from its start: the guest's output again, snapshot hashes checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ttdbg.errors import DivergenceError
from ttdbg.snapshots.state import MachineState, first_difference, same_state

from .eventlog import EventKind, EventLogReader
from .inputs import ReplayInputs
from .linux.platform import Console
from .process import GuestProcess
from .recording import Recording, shell_status
from .runoutcome import RunOutcome, Why


@dataclass(frozen=True)
class ReplayResult:
    """Where a replay stopped and why."""

    icount: int
    reason: str  # "exit", "end" (recording ended there), "to", "truncated", or the error
    exit_status: int | None
    exit_signal: int | None
    verified: int  # snapshots whose hash was checked

    @property
    def shell_status(self) -> int:
        """The replayed program's status as a shell reports it (0 when it had not ended)."""
        return shell_status(self.exit_status, self.exit_signal)


def new_replay_process(
    rec: Recording, console: Console | None = None
) -> GuestProcess[ReplayInputs]:
    """A guest process positioned at icount 0 whose inputs come from the recording."""
    inputs = ReplayInputs(EventLogReader(rec.events))
    proc = GuestProcess(rec.program, inputs, None, console, rec.files, spec=rec.machine_spec)
    proc.platform.start(rec.argv, rec.envp, rec.execfn)
    return proc


def restore_replay_state(
    proc: GuestProcess[ReplayInputs],
    state: MachineState,
    exit_outcome: tuple[int | None, int | None],
) -> None:
    """Put a replaying process exactly in `state`, its log cursor included; `exit_outcome` is
    the recording's (status, signal), which holds if the state is past the end."""
    proc.restore(state, exit_outcome)
    proc.inputs.log.cursor = state.cursor


def replay(
    rec: Recording,
    to: int | None = None,
    verify: bool = False,
    console: Console | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Run the recording forward from icount 0 to `to` (or its end), optionally verifying."""
    proc = new_replay_process(rec, console)
    m = proc.machine
    reader = proc.inputs.log
    # Without its END frame a recording proves nothing past its last event or snapshot, and
    # a CPU-bound guest would otherwise run on with nothing in the log to stop it.
    end = rec.last_known_icount
    stop_at = end if to is None else min(to, end)
    snapshots = rec.snapshots
    pending = list(enumerate(snapshots.entries)) if verify else []
    verified = 0

    def verify_due() -> None:
        """Compare every snapshot stored for the current icount with the replayed state."""
        nonlocal verified
        while pending and pending[0][1].icount <= m.icount:
            index, entry = pending.pop(0)
            # Decoded as page digests and checked against its own hash; compared with the
            # replayed state's digests, so neither state's pages are copied out of place.
            stored = snapshots.summary(index)
            if entry.icount < m.icount:
                continue  # the program ended before it: nothing to compare
            if not same_state(stored, proc.summarize(reader.cursor)):
                # Where they differ, from the full states (memory only on this way out).
                difference = first_difference(snapshots.state(index), proc.capture(reader.cursor))
                raise DivergenceError(m.icount, "the stored snapshot", difference or "a page")
            verified += 1

    ran: RunOutcome | None = None
    while m.halted is None:
        if m.icount >= stop_at:
            break
        verify_due()
        ran = proc.run((min(stop_at, pending[0][1].icount) if pending else stop_at) - m.icount)
        if ran.why == Why.DIVERGED:
            assert ran.error is not None
            raise ran.error
        if ran.failed:
            return ReplayResult(m.icount, str(ran.error), None, None, verified)
        if ran.why == Why.END_OF_LOG:
            return ReplayResult(m.icount, "truncated", None, None, verified)
        if progress is not None:
            progress(m.icount)
    if m.halted is None and not rec.truncated and m.icount >= end:
        ran = proc.deliver_due_async()  # a signal from outside ended the program right here
        ending = proc.inputs.peek()
        if m.halted is None and ending is not None and ending.kind == EventKind.EXIT:
            # A fault (ud2, an undecodable instruction) ended it on the instruction at `end`,
            # which does not retire: run it to take the same fatal signal.
            ran = proc.run(1)
    verify_due()  # the snapshot here is of the state after that signal
    if ran is not None and ran.why == Why.EXITED:
        return ReplayResult(m.icount, "exit", ran.exit_status, ran.exit_signal, verified)
    if to is not None and m.icount >= to:
        return ReplayResult(m.icount, "to", None, None, verified)
    return ReplayResult(m.icount, "truncated" if rec.truncated else "end", None, None, verified)
