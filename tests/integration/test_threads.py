"""Threaded programs: native, recorded and replayed output agree; the schedule replays exactly,
and the timeline moves across thread switches as a forward replay does."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.conftest import run_native, run_ttdbg
from tests.integration.test_bad_input import assert_one_line_error
from tests.recedit import edit_header
from tests.threads.build import build, build_go, native_argv
from ttdbg.backend.eventlog import Event, EventKind
from ttdbg.backend.linux.platform import PLATFORM_VERSION
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process, replay
from ttdbg.backend.timeline import Timeline
from ttdbg.errors import DivergenceError
from ttdbg.snapshots.state import PageDigests

SCENARIOS = [
    "workqueue",
    "barrier",
    "tls",
    "join",
    "detached",
    "cancel",
    "altstack",
    "names",
    "pipewait",
    "pollwait",
    "eintr",
    "waitmask",
]


@pytest.fixture(scope="module")
def pthreads() -> Path:
    return build("pthreads.c")


def record(program: Path, args: list[str], rec: Path, *options: str) -> bytes:
    done = run_ttdbg(["record", *options, "-o", str(rec), "--", str(program), *args])
    assert done.returncode == 0, done.stderr
    return done.stdout


def replayed(rec: Path) -> bytes:
    done = run_ttdbg(["replay", "--verify", str(rec)])
    assert done.returncode == 0, done.stderr
    assert b"verified" in done.stderr
    return done.stdout


def switches(rec: Path) -> list[Event]:
    return [e for e in open_recording(str(rec)).events if e.kind == EventKind.SWITCH]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pthread_programs_print_what_they_print_natively(
    pthreads: Path, scenario: str, tmp_rec: Path
) -> None:
    native = run_native([str(pthreads), scenario])
    assert native.returncode == 0
    assert record(pthreads, [scenario], tmp_rec) == native.stdout
    assert replayed(tmp_rec) == native.stdout
    threads = {tid for e in switches(tmp_rec) for tid in e.args[:2]}
    assert len(threads) >= 2  # the threads really ran, one at a time


def test_a_recording_from_before_eintr_is_refused_not_diverging(
    pthreads: Path, tmp_path: Path
) -> None:
    """Version 7 restarted a parked host call a signal interrupted; its recordings of such
    a call (this one: `eintr`) would diverge now, so every recording of it is refused."""
    rec = tmp_path / "eintr.ttrec"
    record(pthreads, ["eintr"], rec)
    old = edit_header(rec, tmp_path / "v7.ttrec", lambda h: h.__setitem__("platform_version", 7))
    refusal = (
        f"recorded with Linux emulation version 7, this ttdbg replays version {PLATFORM_VERSION}"
    )
    for command in (["replay", "--verify"], ["info"]):
        assert_one_line_error(run_ttdbg([*command, str(old)]), refusal, "record it again")


def test_futex_operations_answer_as_the_kernel_does(tmp_rec: Path) -> None:
    program = build("futexops.c")
    native = run_native([str(program)])
    assert native.returncode == 0
    assert record(program, [], tmp_rec) == native.stdout
    assert replayed(tmp_rec) == native.stdout


def test_a_racy_counter_replays_its_recorded_schedule(pthreads: Path, tmp_rec: Path) -> None:
    out = record(pthreads, ["racy", "30000"], tmp_rec, "--snapshot-every", "40000")
    assert out.startswith(b"racy: counter ")
    assert len(switches(tmp_rec)) > 4
    assert replayed(tmp_rec) == out
    info = json.loads(run_ttdbg(["info", "--json", str(tmp_rec)]).stdout)
    assert info["snapshots"] > 5  # --verify compared states taken between switches


def _state_hash(tl: Timeline) -> tuple[int, str]:
    state = tl.proc.capture(tl.proc.inputs.log.cursor)
    return tl.proc.platform.threads.current, PageDigests().state_hash(state)


def test_seek_and_reverse_step_across_switches_match_a_forward_replay(
    pthreads: Path, tmp_rec: Path
) -> None:
    record(pthreads, ["racy", "20000"], tmp_rec, "--snapshot-every", "25000")
    rec = open_recording(str(tmp_rec))
    marks = sorted(
        {e.icount + d for e in rec.events if e.kind == EventKind.SWITCH for d in (-1, 0, 1)}
    )[:40]
    # The oracle: one forward replay from the start, never restoring anything.
    forward = Timeline(rec, cache_budget=0)
    expected = {}
    for icount in marks:
        forward.proc.machine.run(icount - forward.position)
        assert forward.position == icount
        expected[icount] = _state_hash(forward)
    tl = Timeline(rec)
    tl.seek(tl.end)
    for icount in reversed(marks):
        tl.seek(icount)
        assert _state_hash(tl) == expected[icount], icount
    for icount in marks[1:]:
        tl.seek(icount)
        tl.reverse_step()
        if icount - 1 in expected:
            assert _state_hash(tl) == expected[icount - 1], icount


def test_a_different_schedule_is_a_divergence_naming_the_icount_and_threads(
    pthreads: Path, tmp_rec: Path
) -> None:
    record(pthreads, ["racy", "20000"], tmp_rec)
    rec = open_recording(str(tmp_rec))
    i, ev = next((i, e) for i, e in enumerate(rec.events) if e.kind == EventKind.SWITCH)
    frm, _to, why = ev.args
    events = list(rec.events)
    events[i] = dataclasses.replace(ev, args=(frm, frm + 1000, why))
    tampered = dataclasses.replace(rec, events=events)
    with pytest.raises(DivergenceError) as err:
        replay(tampered)
    assert f"icount {ev.icount}" in str(err.value)
    assert f"thread {frm + 1000}" in str(err.value)
    assert new_replay_process(rec).platform.threads.current == frm  # the main thread starts


def test_chaos_seeds_give_different_schedules_that_each_replay(
    pthreads: Path, tmp_path: Path
) -> None:
    schedules = []
    for seed in (1, 2):
        rec = tmp_path / f"chaos{seed}.ttrec"
        done = run_ttdbg(
            ["record", "--chaos", "--seed", str(seed), "-o", str(rec), "--", str(pthreads),
             "racy", "20000"]
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"chaos schedule, seed {seed}".encode() in done.stderr
        assert replayed(rec) == done.stdout
        schedules.append([(e.icount, e.args) for e in switches(rec)])
    assert schedules[0] != schedules[1]


def test_schedule_options_are_checked(pthreads: Path, tmp_rec: Path) -> None:
    for options in (["--seed", "3"], ["--chaos", "--quantum", "5"], ["--quantum", "0"]):
        done = run_ttdbg(["record", *options, "-o", str(tmp_rec), "--", str(pthreads), "join"])
        assert done.returncode == 2
        assert b"Traceback" not in done.stderr
    fixed = record(pthreads, ["racy", "20000"], tmp_rec, "--quantum", "1000")
    assert replayed(tmp_rec) == fixed


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
@pytest.mark.parametrize(
    "scenario", ["workqueue", "tls", "cancel", "barrier", "eintr", "waitmask-letin"]
)
def test_threads_on_other_architectures_match_qemu_user(
    arch: str, scenario: str, tmp_rec: Path
) -> None:
    program = build("pthreads.c", arch)
    native = run_native([*native_argv(program, arch), scenario])
    assert native.returncode == 0
    assert record(program, [scenario], tmp_rec) == native.stdout
    assert replayed(tmp_rec) == native.stdout
    assert len(switches(tmp_rec)) >= 2


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_cpp_std_thread(arch: str, tmp_rec: Path) -> None:
    program = build("stdthread.cc", arch)
    native = run_native(native_argv(program, arch))
    assert native.returncode == 0
    assert record(program, [], tmp_rec) == native.stdout
    assert replayed(tmp_rec) == native.stdout


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_a_static_go_program_with_goroutines(arch: str, tmp_rec: Path) -> None:
    """Go's runtime starts its threads before main, waits for timers in epoll, and may preempt
    a goroutine with SIGURG, whose handler runs on the thread's alternate signal stack (a
    cross build for AArch64 and RISC-V 64, qemu-user the oracle)."""
    program = build_go("goroutines.go", arch)
    native = run_native(native_argv(program, arch))
    assert native.returncode == 0
    assert native.stdout.startswith(b"goroutines: sum of squares ")
    assert record(program, [], tmp_rec) == native.stdout
    assert replayed(tmp_rec) == native.stdout
    assert len({e.args[1] for e in switches(tmp_rec)}) >= 3  # the runtime's threads ran
