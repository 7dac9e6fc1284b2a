"""The engine: one operation at a time on a Timeline; front-ends send it operations.

The concurrency rule of ttdbg: a Timeline (and its Unicorn machine) is owned by one engine.
The TUI and the gdb server never call into it; they submit operations and receive the result
through a `Future`, and the timeline's changes as `Changes` notifications. Operations run
one at a time in submission order, on the engine thread; a short one whose submitter would
only wait for it (a gdb stepi, a register read) may instead run on the submitter's thread
while the engine is idle (`run_here`), which saves two thread hand-offs per request and is
still one operation at a time. The engine holds no lock while it runs an operation or
delivers a notification, and subscribers must not block (the TUI posts a message, the gdb
server ignores them), so no cycle of waiting can form. Values a front-end reads directly
(breakpoints, watchpoints, replay breaks, named states) are immutable snapshots replaced
whole on each change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

from .cancel import CancelToken
from .timeline import Change, Timeline

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """What one operation changed on the timeline, and which front-end asked for it."""

    origin: str
    changes: tuple[Change, ...]


Subscriber = Callable[[Changes], None]


class _Job(NamedTuple):
    """One operation (a tuple: gdb makes one for every packet it sends)."""

    run: Callable[[CancelToken], Any]
    origin: str
    replaceable: bool  # an absolute move that a newer one from the same origin makes moot
    cancel: CancelToken
    future: Future[Any]


class IdleWork(Protocol):
    """Work the engine does while no operation waits (filling in checkpoints)."""

    def work(self, should_stop: Callable[[], bool]) -> bool:
        """Work until `should_stop()`, leaving the timeline as it found it; True: more
        remains."""
        ...


_IDLE = _Job(
    lambda _cancel: None, "idle", False, CancelToken(), Future()
)  # holds the turn while idle
_new_job = tuple.__new__
_NO_FUTURE: Future[Any] = Future()  # of an operation run on its submitter's thread (run_now)


class EngineStopped(RuntimeError):
    """The engine was stopped before the operation could run."""


class Engine:
    """Runs operations on one timeline, one at a time, in the order they were submitted."""

    def __init__(self, timeline: Timeline, name: str = "engine") -> None:
        self.timeline = timeline
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._runner: int | None = None  # the ident of the thread running `_current`
        # The condition's own lock, taken directly on the paths every gdb packet runs (the
        # Condition's __enter__ and __exit__ are Python calls).
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._subscribers: tuple[Subscriber, ...] = ()
        self._stopping = False
        self._idle: IdleWork | None = None
        self._idle_after = 0.0
        self._idle_more = False  # the idle work said more remains
        self._quiet_since = time.monotonic()  # when the last operation ended
        self._untimed_wait = True  # the engine thread's last wait had no timeout
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self._thread.start()

    # -- submitting -------------------------------------------------------------------------

    def submit(
        self,
        run: Callable[[CancelToken], T],
        origin: str = "",
        cancel: CancelToken | None = None,
        replaceable: bool = False,
    ) -> Future[T]:
        """Queue `run(cancel)` for the engine thread; its result or exception arrives in the
        returned future. A `replaceable` operation drops the queued replaceable ones of the
        same origin and cancels a running one."""
        job = _Job(run, origin, replaceable, cancel or CancelToken(), Future())
        with self._cond:
            if self._stopping:
                job.future.set_exception(EngineStopped("the engine has stopped"))
                return job.future
            if replaceable:
                self._drop(lambda j: j.origin == origin and j.replaceable)
                current = self._current
                if current is not None and current.origin == origin and current.replaceable:
                    current.cancel.cancel()
            self._jobs.append(job)
            self._cond.notify()
        return job.future

    def run_here(
        self, run: Callable[[CancelToken], T], origin: str = "", cancel: CancelToken | None = None
    ) -> Future[T] | None:
        """Run a short operation on the calling thread, if the engine is idle (nothing runs
        or waits); the returned future is already done. None when the engine is busy: then
        `submit` it, so it keeps its place in the order."""
        future: Future[T] = Future()
        try:
            ran = self.run_now(run, origin, cancel)
        except Exception as err:
            future.set_exception(err)
            return future
        if ran is None:
            return None
        future.set_result(ran[0])
        return future

    def run_now(
        self, run: Callable[[CancelToken], T], origin: str = "", cancel: CancelToken | None = None
    ) -> tuple[T] | None:
        """`run_here` without a future (a gdb request costs several): `(result,)` when the
        engine was idle and the operation ran on the calling thread; None when the engine is
        busy. The operation's exception is raised here."""
        # (tuple.__new__: the NamedTuple's own __new__ is a Python function)
        job = _new_job(_Job, (run, origin, False, cancel or CancelToken(), _NO_FUTURE))
        with self._lock:
            if self._stopping or self._current is not None or self._jobs:
                return None
            self._current, self._runner = job, threading.get_ident()
        try:
            return (run(job.cancel),)
        finally:
            self._end_turn(job)

    def call(
        self, run: Callable[[CancelToken], T], origin: str = "", cancel: CancelToken | None = None
    ) -> T:
        """Run an operation on the engine thread and wait for its result (never from the
        engine thread itself, nor from a UI thread)."""
        if threading.get_ident() in (self._thread.ident, self._runner):
            raise RuntimeError("Engine.call from inside an operation would wait for itself")
        return self.submit(run, origin, cancel).result()

    def cancel(self, origin: str) -> None:
        """Drop the queued operations of `origin` and cancel its running one."""
        with self._cond:
            self._drop(lambda j: j.origin == origin)
            if self._current is not None and self._current.origin == origin:
                self._current.cancel.cancel()

    def pending(self, origin: str, replaceable: bool | None = None) -> int:
        """How many operations of `origin` wait to run (not counting the running one)."""
        with self._cond:
            return sum(
                j.origin == origin and (replaceable is None or j.replaceable == replaceable)
                for j in self._jobs
            )

    def busy(self, origin: str) -> bool:
        """An operation of `origin` is queued or running."""
        with self._cond:
            running = self._current is not None and self._current.origin == origin
            return running or any(j.origin == origin for j in self._jobs)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call `fn` (on the engine thread, without blocking) after every operation that
        changed the timeline; returns a function that unsubscribes."""
        with self._cond:
            self._subscribers = (*self._subscribers, fn)

        def unsubscribe() -> None:
            with self._cond:
                self._subscribers = tuple(s for s in self._subscribers if s is not fn)

        return unsubscribe

    def set_idle(self, work: IdleWork | None, after: float = 0.3) -> None:
        """Run `work` on the engine thread once no operation has come for `after` seconds,
        until it says it is done (again after each operation); None: no idle work. An
        operation submitted meanwhile waits for the work's current slice to end."""
        with self._cond:
            self._idle, self._idle_after, self._idle_more = work, after, work is not None
            self._cond.notify()

    @property
    def idle_done(self) -> bool:
        """The idle work has nothing left to do (or there is none)."""
        with self._cond:
            return not self._idle_more and self._current is not _IDLE

    def stop(self, timeout: float = 5) -> None:
        """Cancel everything and end the engine thread."""
        with self._cond:
            self._stopping = True
            self._drop(lambda j: True)
            if self._current is not None:
                self._current.cancel.cancel()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # -- the engine thread --------------------------------------------------------------------

    def _drop(self, which: Callable[[_Job], bool]) -> None:
        kept: deque[_Job] = deque()
        for job in self._jobs:
            if which(job):
                job.cancel.cancel()
                job.future.cancel()
            else:
                kept.append(job)
        self._jobs = kept

    def _loop(self) -> None:
        while True:
            with self._cond:
                # An operation running on its submitter's thread (run_here) holds the turn.
                while (not self._jobs or self._current is not None) and not self._stopping:
                    wait = self._idle_wait() if self._current is None else None
                    if wait is not None and wait <= 0:
                        break
                    self._untimed_wait = wait is None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                if self._jobs:
                    job = self._current = self._jobs.popleft()
                else:
                    job = self._current = _IDLE
                self._runner = self._thread.ident
            if job is _IDLE:
                self._run_idle()
            else:
                self._execute(job)

    def _idle_wait(self) -> float | None:
        """Seconds until the idle work may run (<= 0: now); None: there is none to do."""
        if self._idle is None or not self._idle_more:
            return None
        return self._idle_after - (time.monotonic() - self._quiet_since)

    def _run_idle(self) -> None:
        work = self._idle
        more = False
        try:
            if work is not None:
                more = work.work(lambda: bool(self._jobs) or self._stopping)
        except Exception:  # idle work must never take the engine down
            log.warning("the engine's idle work failed", exc_info=True)
        with self._cond:
            self._current = self._runner = None
            self._idle_more = more and self._idle is work
            self._cond.notify_all()

    def _execute(self, job: _Job) -> None:
        """Run the current job, give the turn back, then tell the subscribers."""
        self._run(job)
        self._end_turn(job)

    def _end_turn(self, job: _Job) -> None:
        """Give the turn back after `job` ran, then tell the subscribers what it changed."""
        changes = self.timeline.take_changes()
        with self._lock:
            self._current = self._runner = None
            self._quiet_since = time.monotonic()
            self._idle_more = self._idle is not None  # the operation may have left gaps
            subscribers = self._subscribers
            # The engine thread waits for its turn, or for the idle work, with no timeout.
            # One waiting with a timeout looks again when it ends (a wake-up after every
            # stepi run on the UI thread took the GIL from it for nothing).
            if self._jobs or (self._idle_more and self._untimed_wait):
                self._cond.notify()
        if changes:
            note = Changes(job.origin, tuple(changes))
            for fn in subscribers:
                self._deliver(fn, note)

    def _run(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.run(job.cancel)
        except BaseException as err:  # the submitter decides what an error means
            log.debug("engine operation from %r failed", job.origin, exc_info=True)
            job.future.set_exception(err)
        else:
            job.future.set_result(result)

    def _deliver(self, fn: Subscriber, note: Changes) -> None:
        try:
            fn(note)
        except Exception:  # a broken subscriber must not stop the engine
            log.warning("a timeline subscriber failed", exc_info=True)
