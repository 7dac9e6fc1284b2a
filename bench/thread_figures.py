"""Threads: recording a 4-thread compute program against bare Unicorn doing the same work on
one thread, and the cost of one thread switch in a mutex ping-pong."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.static_build import static_build
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording

SOURCE = Path(__file__).resolve().parent / "threads.c"
WORK = 40_000_000  # LCG rounds in all, about 5 instructions each
PASSES = 2_000


def build() -> Path:
    """bench/threads.c, static, built once into the cache."""
    return static_build(SOURCE, "-pthread")


def _record(program: Path, args: list[str], out: Path) -> Any:
    argv = [str(program).encode(), *(a.encode() for a in args)]
    return Recorder(str(program), argv, [], str(out)).run()


def _switches(path: Path) -> int:
    return sum(1 for e in open_recording(str(path)).events if e.kind == EventKind.SWITCH)


def _rounds(repeats: int, runs: dict[str, Callable[[], Any]]) -> dict[str, tuple[float, float]]:
    """Each run's median (wall, CPU) seconds over `repeats` rounds, the runs taking turns
    within each round (so a machine that slows down for a while slows all of them)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in times.items()
    }


def thread_figures(best_of: Any, raw_unicorn: Any, repeats: int) -> dict[str, Any]:
    program = build()
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-bench-threads-"))
    four, one = tmp / "compute4.ttrec", tmp / "compute1.ttrec"
    _record(program, ["compute", "0", str(WORK)], one)  # the raw runs replay this one
    took = _rounds(
        max(3, repeats),
        {
            "four": lambda: _record(program, ["compute", "4", str(WORK)], four),
            "one": lambda: _record(program, ["compute", "0", str(WORK)], one),
            "raw": lambda: raw_unicorn(one),
            # A native block hook that does nothing in the counter's place: the most any
            # recorder counting blocks through a Unicorn hook can reach, whatever the hook does.
            "hooked": lambda: raw_unicorn(one, empty_block_hook=True),
        },
    )
    (record_s, record_cpu), (one_s, one_cpu), (raw_s, raw_cpu) = (
        took["four"],
        took["one"],
        took["raw"],
    )
    pong, short = tmp / "pingpong.ttrec", tmp / "pingpong1.ttrec"
    pong_s, _ = best_of(repeats, lambda: _record(program, ["pingpong", str(PASSES)], pong))
    # The same program passing the token once: what recording costs apart from the
    # switches (start-up, loading, snapshots), taken off so the figure is per switch.
    short_s, _ = best_of(repeats, lambda: _record(program, ["pingpong", "1"], short))
    switches = _switches(pong)
    extra = max(1, switches - _switches(short))
    four_switches = _switches(four)
    return {
        "threads_record_ratio": round(raw_s / record_s, 3),
        # The same in CPU time: both sides run on one host thread, so CPU time leaves out
        # what other processes take of a shared machine.
        "threads_record_ratio_cpu": round(raw_cpu / record_cpu, 3),
        # The same work recorded on one thread: what recording costs without any switch (the
        # per-block counter on this 5-instruction loop), for telling the threads' share apart.
        "threads_single_record_ratio": round(raw_s / one_s, 3),
        "threads_single_record_ratio_cpu": round(raw_cpu / one_cpu, 3),
        "threads_hook_ceiling_ratio": round(raw_cpu / took["hooked"][1], 3),
        "threads_compute_switches": four_switches,
        "thread_switch_us": round(max(0.0, pong_s - short_s) / extra * 1e6, 1),
        # The whole recording divided by its switches (start-up included), as measured before.
        "thread_switch_us_whole_run": round(pong_s / max(1, switches) * 1e6, 1),
        "thread_pingpong_switches": switches,
    }
