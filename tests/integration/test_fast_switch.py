"""The native futex and thread-switch path of a recording logs exactly what the Python scheduler
logs: the same events at the same icounts, the same schedule, the same final state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.threads.build import build
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.linux.fastswitch import FastSwitch
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


def _record(program: Path, args: list[str], rec: Path) -> int:
    argv = [str(program).encode(), *(a.encode() for a in args)]
    result = Recorder(str(program), argv, [b"LANG=C"], str(rec), snapshot_every=50_000).run()
    assert result.exit_status == 0, result.reason
    return result.icount


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
@pytest.mark.parametrize("scenario", ["workqueue"])
def test_native_switches_log_what_the_python_scheduler_logs(
    arch: str, scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = build("pthreads.c", arch)
    answered = []
    take_back = FastSwitch.take_back

    def counting_take_back(self: FastSwitch) -> None:
        if self._s.armed:
            answered.append(self._s.ops)
        take_back(self)

    monkeypatch.setattr(FastSwitch, "take_back", counting_take_back)
    fast_end = _record(program, [scenario], tmp_path / "fast.ttrec")
    assert sum(answered) > 0  # the native path answered futex calls itself
    monkeypatch.setattr(FastSwitch, "arm", lambda self: None)
    answered.clear()
    slow_end = _record(program, [scenario], tmp_path / "python.ttrec")
    assert not answered  # the second recording took the Python path only
    assert fast_end == slow_end
    fast = _events(tmp_path / "fast.ttrec")
    assert fast == _events(tmp_path / "python.ttrec")
    assert sum(1 for e in fast if e[0] == EventKind.SWITCH) >= 4
    replayed = replay(open_recording(str(tmp_path / "fast.ttrec")), verify=True)
    assert (replayed.reason, replayed.icount) == ("exit", fast_end)
    assert replayed.verified >= 2
