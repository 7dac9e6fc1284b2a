"""The non-determinism boundary: every value from outside the guest passes through here.

`LiveInputs` asks the host and appends what it answered to the event log; `ReplayInputs`
answers from the log instead and checks that the guest asks the same questions in the same
order. Host access is a closure the caller passes in, so replay never runs it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from ttdbg.errors import DivergenceError

from .eventlog import Event, EventKind, EventLogReader, EventLogWriter
from .linux.errnos import EINTR

Outcome = tuple[int, bytes]
# (result, payload, span): `span` says where the payload lies in a file the recording stores
# (digest | u64 offset), or is b"" when the payload has to be logged as it is.
SpanOutcome = tuple[int, bytes, bytes]


class HostInterrupted(Exception):
    """A signal reached the recorder while the host was blocked on the guest's behalf."""


class EndOfLog(Exception):
    """Replay needs an input the (truncated) recording does not have."""

    def __init__(self, icount: int) -> None:
        super().__init__(f"the recording ends at icount {icount}")
        self.icount = icount


class Inputs(ABC):
    """Where the guest's outside values come from."""

    replaying: bool

    @abstractmethod
    def take(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], Outcome]
    ) -> Outcome:
        """The (result, payload) for the input the guest asks for at `icount`."""

    @abstractmethod
    def note(self, event: Event) -> None:
        """Log an event the guest produced (its exit) or check it against the log."""

    @abstractmethod
    def decide(
        self, kind: EventKind, icount: int, choose: Callable[[], Event | None]
    ) -> Event | None:
        """A choice the recorder makes (a thread switch): `choose` makes it and it is logged
        when recording; replay takes the logged one at this icount instead, or None, and
        raises DivergenceError when the logged one is due at an icount already past."""

    def take_span(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], SpanOutcome]
    ) -> Outcome:
        """`take` for an input that may come from a stored file (a read): logged as a
        reference to the file's stored content when the host says where it lies."""
        return self.take(kind, icount, args, lambda: host()[:2])

    def peek(self) -> Event | None:
        """The next logged event, when replaying (recording has no future)."""
        return None

    def decided(self, kind: EventKind, rows: Sequence[tuple[int, ...]]) -> None:
        """Recording: choices of `kind` made outside `decide` (native thread switches), as
        (icount, *args) rows of events with no result or payload, logged in order."""
        raise NotImplementedError("only a recording logs choices made elsewhere")


class LiveInputs(Inputs):
    """Asks the host, and logs every answer."""

    replaying = False

    def __init__(self, log: EventLogWriter) -> None:
        self.log = log
        self.in_host = False  # a signal arriving now may interrupt the host call

    def take(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], Outcome]
    ) -> Outcome:
        self.in_host = True
        try:
            result, payload = host()
        except HostInterrupted:
            result, payload = -EINTR, b""
        finally:
            self.in_host = False
        self.log.append(Event(kind, icount, args, result, payload))
        return result, payload

    def take_span(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], SpanOutcome]
    ) -> Outcome:
        self.in_host = True
        try:
            result, payload, span = host()
        except HostInterrupted:
            result, payload, span = -EINTR, b"", b""
        finally:
            self.in_host = False
        self.log.append(Event(kind, icount, args, result, payload, span))
        return result, payload

    def note(self, event: Event) -> None:
        self.log.append(event)

    def decide(
        self, kind: EventKind, icount: int, choose: Callable[[], Event | None]
    ) -> Event | None:
        event = choose()
        if event is not None:
            self.log.append(event)
        return event

    def decided(self, kind: EventKind, rows: Sequence[tuple[int, ...]]) -> None:
        self.log.extend_plain(kind, rows)


def _describe(kind: EventKind, icount: int, args: tuple[int, ...]) -> str:
    return f"{kind.name} at icount {icount} with {args}"


class ReplayInputs(Inputs):
    """Answers from the event log and raises DivergenceError when the guest strays."""

    replaying = True

    def __init__(self, log: EventLogReader, check_icount: bool = True) -> None:
        self.log = log
        # Off only when measuring bare Unicorn, which runs without an instruction count.
        self.check_icount = check_icount

    def _next(self, kind: EventKind, icount: int, args: tuple[int, ...]) -> Event:
        ev = self.log.next()
        if ev is None:
            raise EndOfLog(icount)
        if ev.kind != kind or ev.args != args or (self.check_icount and ev.icount != icount):
            raise DivergenceError(
                icount, _describe(ev.kind, ev.icount, ev.args), _describe(kind, icount, args)
            )
        return ev

    def take(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], Outcome]
    ) -> Outcome:
        ev = self._next(kind, icount, args)
        return ev.result, ev.payload

    def peek(self) -> Event | None:
        log = self.log
        return log.events[log.cursor] if log.cursor < len(log.events) else None

    def note(self, event: Event) -> None:
        self._next(event.kind, event.icount, event.args)

    def decide(
        self, kind: EventKind, icount: int, choose: Callable[[], Event | None]
    ) -> Event | None:
        ev = self.peek()
        if ev is None or ev.kind != kind or ev.icount > icount:
            return None
        if ev.icount < icount:
            # A run went past the logged choice: it would stay due for ever, never taken.
            raise DivergenceError(icount, _describe(ev.kind, ev.icount, ev.args), "a run past it")
        self.log.cursor += 1
        return ev
