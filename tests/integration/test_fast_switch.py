"""The native futex and thread-switch path of a recording logs exactly what the Python scheduler
logs: the same events at the same icounts, the same schedule, the same final state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.threads.build import build
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.linux.fastswitch import FastSwitch
from ttdbg.backend.linux.threads import SchedulePolicy
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import replay

# What the host decides anew in every run (AT_RANDOM, getrandom's bytes, the clock) is left
# out; everything the scheduler decides is compared.
HOST_CHOSEN = {EventKind.START, EventKind.COUNTER}


def _events(rec: Path) -> list[tuple[object, ...]]:
    out = []
    for e in open_recording(str(rec)).events:
        if e.kind in HOST_CHOSEN:
            continue
        payload = e.payload if e.kind == EventKind.SWITCH else b""
        out.append((e.kind, e.icount, e.args, e.result, payload))
    return out


def _record(program: Path, args: list[str], rec: Path, quantum: int) -> int:
    argv = [str(program).encode(), *(a.encode() for a in args)]
    policy = SchedulePolicy(quantum=quantum)
    recorder = Recorder(
        str(program), argv, [b"LANG=C"], str(rec), snapshot_every=50_000, schedule=policy
    )
    result = recorder.run()
    assert result.exit_status == 0, result.reason
    return result.icount


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
@pytest.mark.parametrize(
    ("scenario", "quantum"),
    [
        (["workqueue"], SchedulePolicy().quantum),
        # Short quanta: switches between futex waits and wakes, some on a snapshot's icount.
        (["workqueue"], 3_000),
    ],
)
def test_native_switches_log_what_the_python_scheduler_logs(
    arch: str, scenario: list[str], quantum: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = build("pthreads.c", arch)
    answered = []
    take_back = FastSwitch.take_back

    def counting_take_back(self: FastSwitch) -> None:
        if self._s.armed:
            answered.append(self._s.ops)
        take_back(self)

    monkeypatch.setattr(FastSwitch, "take_back", counting_take_back)
    fast_end = _record(program, scenario, tmp_path / "fast.ttrec", quantum)
    assert sum(answered) > 0  # the native path answered futex calls itself
    monkeypatch.setattr(FastSwitch, "arm", lambda self: None)
    answered.clear()
    slow_end = _record(program, scenario, tmp_path / "python.ttrec", quantum)
    assert not answered  # the second recording took the Python path only
    assert fast_end == slow_end
    fast = _events(tmp_path / "fast.ttrec")
    assert fast == _events(tmp_path / "python.ttrec")
    assert sum(1 for e in fast if e[0] == EventKind.SWITCH) >= 4
    replayed = replay(open_recording(str(tmp_path / "fast.ttrec")), verify=True)
    assert (replayed.reason, replayed.icount) == ("exit", fast_end)
    assert replayed.verified >= 2


def test_a_quantum_never_ends_early_where_a_snapshot_was_taken(tmp_path: Path) -> None:
    """A run that stops at a snapshot's icount inside a quantum settles there without a
    switch; when the next run stops right away, before a block that would pass the quantum's
    end, the quantum must not end early at that same icount: the switch would be logged after
    the snapshot, and replay, which takes a switch logged at an icount before it checks the
    snapshot there, would find another thread running (it did: fs_base differed)."""
    program = build("pthreads.c", "x86_64")
    rec = tmp_path / "short-quanta.ttrec"
    end = _record(program, ["workqueue"], rec, 3_000)
    recording = open_recording(str(rec))
    snapshots = {e.icount for e in recording.snapshots.entries}
    quanta = [e for e in recording.events if e.kind == EventKind.SWITCH and e.args[2] == 4]
    # The scenario: a quantum due a few instructions past a snapshot (the block at the
    # snapshot's icount would pass it); it now ends exactly there, after the snapshot.
    assert any(s < e.icount < s + 16 for e in quanta for s in snapshots)
    replayed = replay(recording, verify=True)
    assert (replayed.reason, replayed.icount) == ("exit", end)
    assert replayed.verified == len(snapshots)
