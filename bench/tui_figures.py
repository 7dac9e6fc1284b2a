"""The TUI's response time, measured headlessly with Pilot on a real recording."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

from textual import events

from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.session import Session
from ttdbg.tui.app import TtdbgApp

# How often the bench looks whether the TUI has shown what it waits for: the figures'
# resolution. Every poll's sleep hands the event loop to the app; the check itself costs
# nothing. (At 10 ms, every key measured at least 10 ms whatever the TUI did.)
POLL_S = 0.001


async def _until(pilot: Any, check: Any, timeout: float = 60) -> None:
    """Poll `check`, then wait for the screen to finish drawing what it shows."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the TUI did not update")
        await asyncio.sleep(POLL_S)
    await pilot.pause(0)


def _key(app: TtdbgApp, key: str) -> None:
    """Deliver one key press the way Pilot does, without Pilot's wait for CPU idle."""
    char = {"enter": "\r"}.get(key, key)
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)  # type: ignore[union-attr]


async def _measure(rec_path: Path, steps: int, jumps: int) -> dict[str, Any]:
    """Steps, then seeks once the engine has filled in checkpoints while idle (as it has
    a few seconds after the recording is opened), then source steps."""
    app = _app(rec_path, fill_checkpoints=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: app.view is not None)
        opened = time.perf_counter()
        app.engine.call(lambda _cancel: app.tl.seek(app.tl.end // 3))
        step_ms, step_cpu = await _key_times(app, pilot, "i", steps)
        await _until(pilot, lambda: app.engine.idle_done, timeout=600)
        filled_s = time.perf_counter() - opened
        seek_ms, seek_cpu = await _seeks(app, pilot, jumps)
        back_first, back_next = await _steps_back_after_seeks(app, pilot)
        source_ms, source_cpu = await _source_steps(app, pilot)
    return {
        "tui_source_step_ms_p50": round(statistics.median(source_ms), 1),
        "tui_step_ms_p50": round(statistics.median(step_ms), 1),
        "tui_seek_ms_p50": _percentile(seek_ms, 0.5),
        "tui_seek_ms_p95": _percentile(seek_ms, 0.95),
        "tui_checkpoints_filled_s": round(filled_s, 2),
        # The process's CPU time over the same intervals (both threads): what the figures
        # above cost ttdbg when the machine is shared.
        "tui_source_step_cpu_ms_p50": round(statistics.median(source_cpu), 1),
        "tui_step_cpu_ms_p50": round(statistics.median(step_cpu), 1),
        "tui_seek_cpu_ms_p95": _percentile(seek_cpu, 0.95),
        # `I` after a seek, once the engine has been idle: the first press and the next ones.
        "tui_rstep_first_cpu_ms_p50": _percentile(back_first, 0.5),
        "tui_rstep_cpu_ms_p50": _percentile(back_next, 0.5),
    }


async def _measure_cold(rec_path: Path, jumps: int) -> dict[str, Any]:
    """The same seeks with only the recording's snapshots (right after opening, before the
    engine has filled anything in)."""
    app = _app(rec_path, fill_checkpoints=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: app.view is not None)
        seek_ms, seek_cpu = await _seeks(app, pilot, jumps)
    return {
        "tui_seek_cold_ms_p50": _percentile(seek_ms, 0.5),
        "tui_seek_cold_ms_p95": _percentile(seek_ms, 0.95),
        "tui_seek_cold_cpu_ms_p95": _percentile(seek_cpu, 0.95),
    }


def _app(rec_path: Path, fill_checkpoints: bool) -> TtdbgApp:
    session = Session(Timeline(open_recording(str(rec_path))), "/dev/null")
    return TtdbgApp(session, fill_checkpoints=fill_checkpoints)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


async def _seeks(app: TtdbgApp, pilot: Any, jumps: int) -> tuple[list[float], list[float]]:
    """`g ICOUNT enter` to random places (the same ones every run): milliseconds from the
    enter to the view on the screen, wall and CPU."""
    rng = random.Random(2)
    seek_ms, cpu_ms = [], []
    for _ in range(jumps):
        target = rng.randrange(app.tl.end)
        await pilot.press("g", *str(target))  # typing is the user's time, not ours
        start, cpu = time.perf_counter(), time.process_time()
        _key(app, "enter")
        await _until(pilot, lambda t=target: app.view is not None and app.view.icount == t)
        seek_ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    return seek_ms, cpu_ms


async def _steps_back_after_seeks(
    app: TtdbgApp, pilot: Any, jumps: int = 8, steps: int = 6
) -> tuple[list[float], list[float]]:
    """`I` pressed `steps` times after each of `jumps` seeks, once the engine has been idle
    as long as a user reading the screen leaves it: CPU milliseconds of the first press
    after each seek, and of the others."""
    rng = random.Random(3)
    first, others = [], []
    for _ in range(jumps):
        target = rng.randrange(app.tl.end // 4, app.tl.end)
        await pilot.press("g", *str(target), "enter")
        await _until(pilot, lambda t=target: app.view is not None and app.view.icount == t)
        await _until(pilot, lambda: app.engine.idle_done, timeout=600)
        _wall, cpu = await _key_times(app, pilot, "I", steps)
        first.append(cpu[0])
        others.extend(cpu[1:])
    return first, others


async def _source_steps(
    app: TtdbgApp, pilot: Any, steps: int = 20
) -> tuple[list[float], list[float]]:
    """`s` (a source-line step) in the checksum loop, where lines are a few instructions."""

    def to_a_line(_cancel: object) -> int:
        tl = app.tl
        tl.seek(tl.end * 9 // 10)
        for _ in range(10_000):  # out of code without line info to a line of compute.c
            if app.symbols.line_for(tl.pc) is not None:
                break
            tl.step(1)
        return tl.position

    there = app.engine.call(to_a_line)
    app._refresh_view()
    await _until(pilot, lambda: app.view is not None and app.view.icount == there)
    return await _key_times(app, pilot, "s", steps)


async def _key_times(
    app: TtdbgApp, pilot: Any, key: str, times: int
) -> tuple[list[float], list[float]]:
    """Milliseconds from each press of `key` to its view on the screen, wall and CPU."""
    out, cpu_ms = [], []
    for _ in range(times):
        shown = app.views_shown
        start, cpu = time.perf_counter(), time.process_time()
        _key(app, key)
        await _until(pilot, lambda shown=shown: app.views_shown > shown)
        out.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    return out, cpu_ms


def tui_figures(rec_path: Path, steps: int = 50, jumps: int = 20) -> dict[str, Any]:
    figures = asyncio.run(_measure(rec_path, steps, jumps))
    figures.update(asyncio.run(_measure_cold(rec_path, jumps)))
    return figures
