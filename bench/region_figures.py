"""Memory bookkeeping: a reverse step's restore and the share of it the Linux platform's
state takes, and the memory syscalls of a program with hundreds of mappings, split into
Unicorn's own map calls and ttdbg's walks over the regions (CPU time, medians)."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import unicorn

from bench.static_build import static_build
from ttdbg.backend.linux.memory import AddressSpace
from ttdbg.backend.linux.platform import LinuxPlatform
from ttdbg.backend.machine import Machine
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(__file__).resolve().parent / "maps.c"
STEPS = 200  # reverse steps a round
MEMORY_CALLS = ("do_mmap", "do_munmap", "do_mprotect", "do_mremap", "do_brk")
UNICORN_MAP_CALLS = ("mem_map", "mem_map_ptr", "mem_unmap", "mem_protect")


def build() -> Path:
    """bench/maps.c, static, built once into the cache."""
    return static_build(SOURCE)


@contextmanager
def timed(spent: dict[str, float], key: str, owner: Any, names: tuple[str, ...]) -> Iterator[None]:
    """Add the CPU time of calls to `owner`'s methods `names` to spent[key] (outermost
    calls only, so nested ones count once)."""
    saved = {name: getattr(owner, name) for name in names}
    depth = [0]

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return fn(*args, **kwargs)
            depth[0] += 1
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - start
                depth[0] -= 1

        return call

    for name, fn in saved.items():
        setattr(owner, name, wrap(fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(owner, name, fn)


def reverse_step_round(rec: Recording) -> dict[str, float]:
    """STEPS reverse steps from the end: CPU per step, per restore, per load_state."""
    tl = Timeline(rec)
    tl.seek(tl.end - 1)
    spent: dict[str, float] = {}
    with (
        timed(spent, "restore", GuestProcess, ("restore",)),
        timed(spent, "load_state", LinuxPlatform, ("load_state",)),
    ):
        start = time.process_time()
        for _ in range(STEPS):
            tl.reverse_step(1)
        spent["step"] = time.process_time() - start
    return {k: v / STEPS for k, v in spent.items()}


def replay_round(rec: Recording) -> dict[str, float]:
    """One full replay: its CPU, that of the memory syscalls, and within those Unicorn's
    map calls and Machine.regions."""
    spent: dict[str, float] = {}
    proc = new_replay_process(rec)
    with (
        timed(spent, "memory", AddressSpace, MEMORY_CALLS),
        timed(spent, "unicorn", unicorn.Uc, UNICORN_MAP_CALLS),
        timed(spent, "regions", Machine, ("regions",)),
    ):
        start = time.process_time()
        proc.run(1 << 62)
        spent["replay"] = time.process_time() - start
    return spent


def median_of(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r.get(key, 0.0) for r in rounds)


def region_figures(repeats: int) -> dict[str, Any]:
    walk = open_recording(str(ROOT / "sample_traces" / "walk.ttrec"))
    steps = [reverse_step_round(walk) for _ in range(max(repeats, 5))]
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-bench-maps-"))
    program = build()
    Recorder(str(program), [str(program).encode()], [], str(tmp / "maps.ttrec")).run()
    maps = open_recording(str(tmp / "maps.ttrec"))
    replays = [replay_round(maps) for _ in range(repeats)]
    memory = median_of(replays, "memory")
    uc, regions = median_of(replays, "unicorn"), median_of(replays, "regions")
    return {
        "reverse_step_us_cpu": round(median_of(steps, "step") * 1e6, 1),
        "reverse_step_restore_us_cpu": round(median_of(steps, "restore") * 1e6, 1),
        "reverse_step_load_state_us_cpu": round(median_of(steps, "load_state") * 1e6, 1),
        "load_state_share_of_restore": round(
            statistics.median(s["load_state"] / s["restore"] for s in steps), 3
        ),
        "maps_replay_s_cpu": round(median_of(replays, "replay"), 3),
        "maps_memory_syscalls_s_cpu": round(memory, 3),
        "maps_unicorn_map_calls_s_cpu": round(uc, 3),
        "maps_machine_regions_s_cpu": round(regions, 3),
        "maps_own_walks_s_cpu": round(memory - uc - regions, 3),
    }
