"""The oracle for a position in a recording: a replay from reset run forward to it in one go
(no seek, no state restored)."""

from __future__ import annotations

from pathlib import Path

from ttdbg.backend.inputs import ReplayInputs
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process


def forward(recording: Path, icount: int) -> GuestProcess[ReplayInputs]:
    """A fresh replay of `recording` run from reset to exactly `icount`."""
    proc = new_replay_process(open_recording(str(recording)))
    proc.run(icount)
    assert proc.machine.icount == icount
    return proc
