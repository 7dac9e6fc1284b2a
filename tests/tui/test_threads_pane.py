"""A multi-threaded recording in the TUI: the timeline's lane in each thread's colour, the
threads pane listing every thread with the one that runs marked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.threads.build import build
from tests.tui.conftest import settle
from ttdbg.backend.recorder import Recorder
from ttdbg.session import open_session
from ttdbg.tui.app import TtdbgApp
from ttdbg.tui.widgets.threads import Threads, thread_colour
from ttdbg.tui.widgets.timeline import Timeline


@pytest.mark.slow
def test_thread_lane_and_list(tmp_path: Path) -> None:
    program = build("pthreads.c")
    path = tmp_path / "racy.ttrec"
    Recorder(str(program), [b"pthreads", b"racy", b"5000"], [], str(path), 50_000).run()
    app = TtdbgApp(open_session(str(path)))
    runs = app.tl.thread_runs()
    tids = sorted({run.tid for run in runs})
    assert len(tids) >= 3
    middle = next(run for run in runs if run.tid != runs[0].tid)  # a worker's first run

    async def scenario() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            lane = app.query_one(Timeline).render_line(1)
            colours = {seg.style.color.name for seg in lane if seg.style and seg.style.color}
            assert {thread_colour(i) for i in range(len(tids))} <= colours
            app.seek(middle.start + (middle.end - middle.start) // 2)
            await settle(pilot, app)
            await pilot.press("t")
            await settle(pilot, app)
            pane = app.query_one(Threads)
            rows = pane.visible_text().splitlines()
            assert sorted(int(r.replace("▶", "").split()[1]) for r in rows) == tids
            current = [r for r in rows if r.startswith("▶")]
            assert len(current) == 1
            assert str(middle.tid) in current[0]
            await pilot.press("q")

    asyncio.run(scenario())
