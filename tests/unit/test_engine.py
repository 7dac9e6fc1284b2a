"""The engine thread: operations run one at a time on it, changes are delivered afterwards."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from tests.conftest import SAMPLES, poll
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.engine import Changes, Engine, EngineStopped
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline, TimelineError

REC = open_recording(str(SAMPLES / "walk.ttrec"))


@pytest.fixture
def engine() -> Engine:
    eng = Engine(Timeline(REC))
    yield eng  # type: ignore[misc]
    eng.stop()


def test_operations_run_on_the_engine_thread_in_order(engine: Engine) -> None:
    threads: list[str] = []

    def op(n: int) -> int:
        threads.append(threading.current_thread().name)
        engine.timeline.step(n)
        return engine.timeline.position

    futures = [engine.submit(lambda c, n=n: op(n)) for n in (1, 2, 3)]
    assert [f.result(30) for f in futures] == [1, 3, 6]
    assert threads == ["engine"] * 3
    with pytest.raises(TimelineError):
        engine.call(lambda c: engine.timeline.add_breakpoint(-1))
    assert engine.call(lambda c: engine.timeline.position) == 6


def test_changes_are_delivered_after_the_operation_with_its_origin(engine: Engine) -> None:
    seen: list[Changes] = []
    running: list[bool] = []

    def subscriber(note: Changes) -> None:
        # Delivered once the operation is over: its result is already available.
        running.append(engine.busy(note.origin))
        seen.append(note)

    unsubscribe = engine.subscribe(subscriber)
    engine.call(lambda c: engine.timeline.add_breakpoint(0x401000), origin="gdb")
    engine.call(lambda c: engine.timeline.step(5), origin="tui")
    engine.call(lambda c: engine.timeline.position, origin="tui")  # changes nothing
    poll(lambda: len(seen) == 2, 10, "two notifications")
    unsubscribe()
    engine.call(lambda c: engine.timeline.step(1), origin="tui")
    assert [(n.origin, [c.what for c in n.changes]) for n in seen] == [
        ("gdb", ["breakpoints"]),
        ("tui", ["position"]),
    ]
    assert running == [False, False]
    assert engine.timeline.breakpoints == frozenset({0x401000})


def test_a_newer_absolute_move_replaces_the_queued_ones(engine: Engine) -> None:
    gate = threading.Event()
    blocker = engine.submit(lambda c: gate.wait(30))
    first = engine.submit(lambda c: engine.timeline.seek(100), "tui", replaceable=True)
    step = engine.submit(lambda c: engine.timeline.step(1), "tui")
    last = engine.submit(lambda c: engine.timeline.seek(200), "tui", replaceable=True)
    gate.set()
    assert blocker.result(30)
    with pytest.raises(CancelledError):
        first.result(30)
    step.result(30)
    last.result(30)
    assert engine.call(lambda c: engine.timeline.position) == 200


def test_calling_the_engine_from_itself_is_refused_and_stop_ends_it(engine: Engine) -> None:
    future = engine.submit(lambda c: engine.call(lambda c2: 1))
    with pytest.raises(RuntimeError, match="wait for itself"):
        future.result(30)
    token = CancelToken()
    engine.stop()
    with pytest.raises(EngineStopped):
        engine.submit(lambda c: 1, cancel=token).result(30)


def test_named_states_are_reference_counted_checkpoints() -> None:
    tl = Timeline(REC)
    base = tl.cache.pinned  # the start of the recording stays pinned
    tl.seek(100)
    tl.save_named("a")
    tl.save_named("b")  # two names, one state
    assert tl.cache.pinned == {**base, 100: 2}
    for target in range(200, 2200, 200):  # replacing a name lets its old state go
        tl.seek(target)
        tl.save_named("a")
    assert tl.cache.pinned == {**base, 100: 1, 2000: 1}
    tl.delete_named("b")
    assert tl.cache.pinned == {**base, 2000: 1}
    tl.delete_named("a")
    assert tl.cache.pinned == base
    assert tl.named == {}
    with pytest.raises(TimelineError):
        tl.delete_named("a")
    tl.seek(0)
    tl.save_named("start")
    tl.delete_named("start")
    assert tl.cache.pinned == base  # the start's own pin survives a name on it going away


def test_a_short_operation_runs_on_its_caller_only_while_the_engine_is_idle(
    engine: Engine,
) -> None:
    """run_here saves the hand-off to the engine thread, but never runs beside another
    operation nor ahead of a queued one."""
    seen: list[Changes] = []
    engine.subscribe(seen.append)
    done = engine.run_here(lambda c: (engine.timeline.step(3), threading.current_thread()), "gdb")
    assert done is not None
    assert done.done()
    assert done.result()[1] is threading.current_thread()
    assert [(n.origin, [c.what for c in n.changes]) for n in seen] == [("gdb", ["position"])]

    gate, started = threading.Event(), threading.Event()
    busy = engine.submit(lambda c: (started.set(), gate.wait(30)))
    started.wait(30)
    assert engine.run_here(lambda c: 1) is None  # busy: the caller submits instead
    gate.set()
    busy.result(30)

    # While an operation runs on its caller, a submitted one waits for it to end.
    order: list[str] = []
    inline_running, release = threading.Event(), threading.Event()

    def inline(cancel: CancelToken) -> None:
        inline_running.set()
        release.wait(30)
        order.append("inline")

    runner = threading.Thread(target=lambda: engine.run_here(inline))
    poll(lambda: not engine.busy(""), 10, "the engine to go idle")
    runner.start()
    inline_running.wait(30)
    queued = engine.submit(lambda c: order.append("queued"))
    with pytest.raises(TimeoutError):
        queued.result(0.2)
    release.set()
    queued.result(30)
    runner.join(30)
    assert order == ["inline", "queued"]
    with pytest.raises(RuntimeError, match="wait for itself"):
        engine.run_here(lambda c: engine.call(lambda c2: 1)).result()  # type: ignore[union-attr]
