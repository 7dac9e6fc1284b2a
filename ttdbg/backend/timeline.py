"""The replay engine over one recording: seek, step, continue and their reverse forms.

One Timeline is driven by every front-end (gdb stub, TUI). Its position is an icount: the
machine state before instruction `icount` executes. Moving anywhere loads the best known state
at or before the target (the current one, an in-memory checkpoint, or a recording snapshot)
and replays forward exactly to it. Reverse-continue scans the stretch before the position one
snapshot interval at a time with breakpoints and watchpoints armed, and lands on the last hit.

A Timeline is not thread-safe: one thread owns it (the `Engine` of a TUI or gdb server). The
sets a front-end may read from another thread (breakpoints, watchpoints, replay breaks, named
states) are immutable values replaced whole on every change.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import unicorn

from ttdbg.errors import TtdbgError
from ttdbg.snapshots.cache import StateCache
from ttdbg.snapshots.state import MachineState

from .cancel import CancelToken, Progress
from .codebreaks import CodeBreakpoint, MappedCode, MappedLibrary, mapped_libraries
from .eventlog import Event, EventKind
from .filestore import DIGEST_SIZE
from .inputs import ReplayInputs
from .machines.history import FirmwareHistory, HistoryLog
from .machines.platform import EnteredInterrupt, FirmwarePlatform
from .process import GuestProcess
from .recording import Recording
from .replayer import new_replay_process, restore_replay_state
from .runoutcome import Why
from .schedule import Run, Schedule
from .stops import (
    BeginningOfHistory,
    BreakpointHit,
    EndOfHistory,
    GuestFaulted,
    Interrupted,
    InterruptEntered,
    Reached,
    RegisterChange,
    ReplayBreakHit,
    Stop,
    WatchpointHit,
)
from .tracer import Hit, Tracer, WatchKind, Watchpoint

if TYPE_CHECKING:
    from ttdbg.index.lookup import Found, WriteIndex


def _open_index(recording: Recording) -> WriteIndex | None:
    """The recording's index of writes, if it has a usable one (REC.idx/ beside it)."""
    if not os.path.isdir(recording.path + ".idx"):
        return None  # no need to load the index layer (pyarrow) at all
    from ttdbg.index.lookup import open_write_index

    return open_write_index(recording)


log = logging.getLogger(__name__)
SLICE_SECONDS = 0.015  # cancellation and progress are checked this often
FIRST_SLICE = 1 << 20
CHECKPOINT_SPACING = (1 << 8, 1 << 12, 1 << 16, 1 << 20)
# Where captures cost only the pages written since the last state (fixed memory maps:
# firmware), states this close to a landing point too, so a step back replays a few
# instructions rather than hundreds (with an interrupt every few dozen, each a restart).
FINE_SPACING = (1 << 4, 1 << 6)
MAX_WATCH_LENGTH = 1 << 20  # bytes one watchpoint may cover
MAX_ICOUNT = (1 << 63) - 1  # icounts are stored as signed 64-bit numbers
MAX_READ = 1 << 24  # bytes one memory read may ask for
MAX_NAME = 200  # characters in a saved state's name


class TimelineError(TtdbgError):
    """A request the timeline cannot satisfy (unmapped memory, bad icount, ...)."""

    exit_status = 1


@dataclass(frozen=True)
class Change:
    """What changed on the timeline, for subscribers that redraw."""

    what: str  # "position", "breakpoints", "watchpoints", "replay_breaks", "bookmarks",
    # "interrupt_catch"
    icount: int


@dataclass(frozen=True)
class ThreadInfo:
    """One guest thread as front-ends list it."""

    tid: int
    name: str
    state: str  # "runnable", "waiting"; "exited" or "unborn" in `recorded_threads`
    current: bool  # it executes the instruction at the position


class Timeline:
    """Random access to every instruction of a recording."""

    def __init__(self, recording: Recording, cache_budget: int = 512 << 20) -> None:
        self.recording = recording
        self.proc: GuestProcess[ReplayInputs] = new_replay_process(recording)
        self.machine = self.proc.machine
        self.tracer = Tracer(self.machine)
        if not self.proc.firmware:
            self.tracer.layout = MappedCode(self.proc.platform.mem, self.machine)
        self.cache = StateCache(cache_budget)
        self.replay_breaks: frozenset[int] = frozenset()
        # Interrupt entries continues stop at (firmware): None off, empty every interrupt.
        self.interrupt_catch: frozenset[int] | None = None
        self._history: FirmwareHistory | None = None  # the whole recording's, once read
        self.named: dict[str, int] = {}  # replaced whole on every change
        self._pinning: set[str] = set()  # names whose state this timeline pinned in the cache
        self._changes: list[Change] = []
        self._slice = FIRST_SLICE
        self._exit = recording.exit_outcome()  # (status, signal), (None, None): no end
        self.end = recording.last_known_icount
        self.schedule = Schedule(recording.events, self.proc.platform.threads.current, self.end)
        # Indexes over the event log, so queries at a position cost a bisection.
        # (The log decodes a batch at a time: one pass fills both, keeping no event.)
        self._event_icounts = array("q")
        numbers = self.machine.arch.syscall_numbers
        writes = (numbers.get("write"), numbers.get("writev"))
        self._writes: list[tuple[int, int, bytes]] = []
        mmap = numbers.get("mmap")
        # The files mmap mapped, in the order first mapped: a file mapping's logged answer
        # is the digest of the file's content (and its size).
        self._mapped: dict[bytes, None] = {}
        for ev in recording.events:
            self._event_icounts.append(ev.icount)
            if ev.kind != EventKind.SYSCALL:
                continue
            if ev.args[0] in writes and ev.payload:
                self._writes.append((ev.icount, 2 if ev.args[1] == 2 else 1, ev.payload))
            elif ev.args[0] == mmap and ev.result == 0 and len(ev.payload) >= DIGEST_SIZE + 8:
                self._mapped.setdefault(ev.payload[:DIGEST_SIZE])
        self._write_icounts = [icount for icount, _fd, _data in self._writes]
        self.cache.add(self._capture(), pin=True)
        self.index = _open_index(recording)
        self.answered_by_index = False  # whether the last watchpoint search was a lookup
        self._taught: set[tuple[int, int]] = set()  # (interval, counter generation) taught

    # -- queries ----------------------------------------------------------------------------

    @property
    def position(self) -> int:
        return self.machine.icount

    @property
    def at_end(self) -> bool:
        return self.machine.halted is not None or self.position >= self.end

    def registers(self) -> dict[str, int]:
        return self.machine.registers()

    def register(self, name: str) -> int:
        try:
            return self.machine.reg(name)
        except KeyError:
            raise TimelineError(f"no register named {name!r}") from None

    @property
    def pc(self) -> int:
        return self.machine.pc

    def read_memory(self, addr: int, size: int) -> bytes:
        self.check_range(addr, size, "memory read")
        if size > MAX_READ:
            raise TimelineError(f"memory read: at most {MAX_READ} bytes at a time, not {size}")
        try:
            return self.machine.read(addr, size)
        except unicorn.UcError:
            raise TimelineError(f"cannot read {size} bytes at {addr:#x}: not mapped") from None

    def memory_map(self) -> list[tuple[int, int, int]]:
        return self.machine.regions()

    def events_around(self, before: int = 5, after: int = 5) -> tuple[list[Event], list[Event]]:
        """The last `before` events up to the position and the next `after` ones."""
        events = self.recording.events
        i = bisect.bisect_left(self._event_icounts, self.position)
        return list(events[max(0, i - before) : i]), list(events[i : i + after])

    def events_at(self, icount: int) -> list[Event]:
        """The logged events at `icount` (a syscall's, and what it caused)."""
        i = bisect.bisect_left(self._event_icounts, icount)
        j = bisect.bisect_right(self._event_icounts, icount, i)
        return list(self.recording.events[i:j])

    def output_so_far(self, tail: int | None = None) -> list[tuple[int, bytes]]:
        """(fd, bytes) the guest wrote to its stdout and stderr before the position; with
        `tail`, only the last writes that make up at least that many bytes."""
        end = bisect.bisect_left(self._write_icounts, self.position)
        start = 0
        if tail is not None:
            start, size = end, 0
            while start > 0 and size < tail:
                start -= 1
                size += len(self._writes[start][2])
        return [(fd, data) for _icount, fd, data in self._writes[start:end]]

    def snapshot_interval(self) -> tuple[int, int]:
        """The recording snapshots around the position: (at or before, next or end)."""
        icounts = self.recording.snapshots.icounts
        i = bisect.bisect_right(icounts, self.position) - 1
        lo = icounts[i] if i >= 0 else 0
        hi = icounts[i + 1] if i + 1 < len(icounts) else self.end
        return lo, hi

    # -- threads ------------------------------------------------------------------------------

    @property
    def current_thread(self) -> int:
        """The thread that executes the instruction at the position."""
        return self.proc.platform.threads.current

    def thread_at(self, icount: int) -> int:
        """The thread that executes instruction `icount` (from the recorded schedule)."""
        return self.schedule.thread_at(icount)

    def threads(self) -> list[ThreadInfo]:
        """The threads alive at the position, by tid."""
        table = self.proc.platform.threads.table
        return [
            ThreadInfo(t.tid, t.name, t.state.value, t.tid == self.current_thread)
            for t in sorted(table.values(), key=lambda t: t.tid)
            if t.state.value != "exited"
        ]

    def thread_names(self) -> tuple[tuple[int, str], ...]:
        """(tid, name) of the threads alive at the position, by tid (`threads` without the
        rest: gdb asks for it at every stop)."""
        table = self.proc.platform.threads.table
        return tuple(sorted((t.tid, t.name) for t in table.values() if t.state.value != "exited"))

    def thread_runs(self, lo: int = 0, hi: int | None = None) -> list[Run]:
        """Which thread runs which instructions: the runs of the schedule overlapping
        [lo, hi) (the whole recording by default), in icount order."""
        return self.schedule.runs(lo, hi)

    def thread_lane(self, lo: int, hi: int, cells: int) -> list[int | None]:
        """The thread to draw in each of `cells` cells over [lo, hi): the one that runs most
        of that cell's instructions."""
        return self.schedule.lane(lo, hi, cells)

    def recorded_threads(self) -> list[ThreadInfo]:
        """Every thread of the recording, by tid, with its name and state at the position
        ("exited", or "unborn" for a thread not created yet)."""
        table = self.proc.platform.threads.table
        out = []
        for tid in self.schedule.all_tids():
            t = table.get(tid)
            state = "unborn" if t is None else t.state.value
            name = "" if t is None else t.name
            out.append(ThreadInfo(tid, name, state, tid == self.current_thread))
        return out

    def thread_registers(self, tid: int) -> dict[str, int]:
        """The registers of thread `tid` at the position (a waiting thread's are saved)."""
        if tid == self.current_thread:
            return self.registers()
        t = self.proc.platform.threads.table.get(tid)
        if t is None or t.regs is None:
            raise TimelineError(f"no thread {tid} at icount {self.position}")
        return self.machine.register_file.decode(t.regs)

    def step_thread(
        self, tid: int, forward: bool = True, cancel: CancelToken | None = None
    ) -> Stop:
        """Move thread `tid` by one of its own instructions, as rr does: the other threads'
        instructions in between run (or un-run) silently. An access of that instruction to a
        watched range stops the step as a hardware watchpoint does (see `_land`)."""
        if tid not in self.schedule.tids:
            raise TimelineError(f"no thread {tid} in this recording")
        if forward:
            nxt = self.schedule.next_of(tid, self.position)
            if nxt is None or nxt >= self.end:
                return self.seek(self.end, cancel=cancel)
            return self._step_over(nxt, True, cancel)
        prev = self.schedule.previous_of(tid, self.position)
        if prev is None:
            self.seek(0, cancel=cancel)
            return BeginningOfHistory(0)
        return self._step_over(prev, False, cancel)

    def stepi(self, forward: bool = True, cancel: CancelToken | None = None) -> Stop:
        """One instruction forward (or back), whichever thread runs it, as gdb's stepi and
        reverse-stepi show it to their user: an access of that instruction to a watched range
        reports the watchpoint, landing after the instruction going forward and on it going
        back (where gdb stands once it has stepped over a non-steppable one itself: the
        stub's landing, `_land`'s, would not move on AArch64 and RISC-V)."""
        if forward:
            if self.at_end:
                return self.step(1, cancel=cancel)
            return self._step_over(self.position, True, cancel, shown=True)
        if self.position == 0:
            return BeginningOfHistory(0)
        return self._step_over(self.position - 1, False, cancel, shown=True)

    def _step_over(
        self, icount: int, forward: bool, cancel: CancelToken | None, shown: bool = False
    ) -> Stop:
        """Go past instruction `icount` (forward: just after it; backward: onto it), or stop
        where a watchpoint it triggers stops; gdb's stepi, next and finish report those.
        `shown`: where gdb shows that stop to its user rather than where its stub reports it
        (see `_land`)."""
        hit = None
        if self.tracer.watching and not self.tracer.searching:
            hit = self._watch_hit_at(icount, cancel)
        if hit is None:
            return self.seek(icount + 1 if forward else icount, cancel=cancel)
        stop = self._land(hit, forward, None, shown)
        self._notify("position")
        return stop

    def _watch_hit_at(self, icount: int, cancel: CancelToken | None) -> Hit | None:
        """The first access of instruction `icount` to a watched range, found by running that
        one instruction with the watchpoints armed (None: none, or cancelled)."""
        if not isinstance(self._goto(icount, None, cancel), Reached):
            return None
        self.tracer.arm(stop_on_hit=False, after=icount)
        try:
            self._run_until(icount + 1, icount, None, cancel)
        finally:
            self.tracer.disarm()
        hits = [h for h in self.tracer.hits if h.watch is not None and h.icount == icount]
        return hits[0] if hits else None

    # -- notifications ------------------------------------------------------------------------

    def _notify(self, what: str) -> None:
        self._changes.append(Change(what, self.position))

    def take_changes(self) -> list[Change]:
        """What changed since the last call (the engine delivers them to front-ends)."""
        changes, self._changes = self._changes, []
        return changes

    # -- breakpoints, watchpoints, replay breaks, names ------------------------------------

    @property
    def breakpoints(self) -> frozenset[int]:
        return self.tracer.breakpoints

    @property
    def watchpoints(self) -> frozenset[Watchpoint]:
        return self.tracer.watchpoints

    def check_range(self, addr: int, length: int, what: str) -> None:
        """TimelineError unless [addr, addr+length) lies in the guest's address space."""
        limit = 1 << self.machine.arch.address_bits
        if not (isinstance(addr, int) and isinstance(length, int)):
            raise TimelineError(f"{what}: addresses and lengths are integers")
        if addr < 0 or length < 0 or addr + length > limit:
            raise TimelineError(f"{what}: {addr:#x}+{length} is outside the address space")

    def check_icount(self, icount: int) -> None:
        if not isinstance(icount, int) or not 0 <= icount <= MAX_ICOUNT:
            raise TimelineError(f"icount {icount} is out of range (0 to 2**63-1)")

    def add_breakpoint(self, addr: int) -> None:
        # One byte past the address must still be addressable: the tracer retranslates it.
        self.check_range(addr, 2, "breakpoint")
        if self.tracer.add_breakpoint(addr):
            self._notify("breakpoints")

    def remove_breakpoint(self, addr: int) -> None:
        if self.tracer.remove_breakpoint(addr):
            self._notify("breakpoints")

    @property
    def code_breakpoints(self) -> frozenset[CodeBreakpoint]:
        return self.tracer.code_breakpoints

    def add_code_breakpoint(self, bp: CodeBreakpoint) -> None:
        """Break at a library's instruction wherever the library is mapped at each moment."""
        if self.tracer.layout is None:
            raise TimelineError("breakpoints on a library's code need a Linux program")
        if self.recording.files.get(bp.digest) is None:
            raise TimelineError("breakpoint on a file the recording does not hold")
        if self.tracer.add_code_breakpoint(bp):
            self._notify("breakpoints")

    def remove_code_breakpoint(self, bp: CodeBreakpoint) -> None:
        if self.tracer.remove_code_breakpoint(bp):
            self._notify("breakpoints")

    def code_addresses(self, bp: CodeBreakpoint) -> list[int]:
        """Where `bp` applies at the current position ([] where its file is not mapped)."""
        layout = self.tracer.layout
        return [] if layout is None else layout.locate(bp)

    def code_breakpoint_at(self, addr: int) -> CodeBreakpoint | None:
        """A breakpoint on the shared object's byte mapped at `addr` at the current
        position, or None where none is (the program, the loader, anonymous memory)."""
        layout = self.tracer.layout
        if not isinstance(layout, MappedCode):
            return None
        return layout.at(addr, self.recording.files.get)

    def mapped_libraries(self) -> list[MappedLibrary]:
        """Every shared object the program maps (mmap) anywhere in the recording, in the
        order first mapped."""
        files = self.recording.files
        return mapped_libraries(list(self._mapped), files.paths, files.get)

    def add_watchpoint(self, kind: WatchKind | str, addr: int, length: int) -> Watchpoint:
        if not isinstance(length, int) or not 1 <= length <= MAX_WATCH_LENGTH:
            raise TimelineError(f"a watchpoint covers 1 to {MAX_WATCH_LENGTH} bytes, not {length}")
        self.check_range(addr, length, "watchpoint")
        wp = Watchpoint(WatchKind(kind), addr, length)
        if self.tracer.add_watchpoint(wp):
            self._notify("watchpoints")
        return wp

    def remove_watchpoint(self, kind: WatchKind | str, addr: int, length: int) -> None:
        if self.tracer.remove_watchpoint(Watchpoint(WatchKind(kind), addr, length)):
            self._notify("watchpoints")

    def add_replay_break(self, icount: int) -> None:
        self.check_icount(icount)
        self.replay_breaks = self.replay_breaks | {icount}
        self._notify("replay_breaks")

    def remove_replay_break(self, icount: int | None = None) -> None:
        self.replay_breaks = frozenset() if icount is None else self.replay_breaks - {icount}
        self._notify("replay_breaks")

    @property
    def firmware(self) -> FirmwarePlatform | None:
        """The firmware platform (board, devices, interrupts), None for a Linux program."""
        platform = self.proc.platform
        return platform if isinstance(platform, FirmwarePlatform) else None

    def catch_interrupts(self, numbers: Iterable[int] | None) -> None:
        """Make continues stop where the CPU enters an interrupt: `numbers` (the board's,
        as `InterruptEntered.number` names them; empty: every one), or None to stop."""
        if numbers is not None and self.firmware is None:
            raise TimelineError("interrupts are entered only in firmware recordings")
        self.interrupt_catch = None if numbers is None else frozenset(numbers)
        self._notify("interrupt_catch")

    def firmware_history(self, cancel: CancelToken | None = None) -> FirmwareHistory | None:
        """Every interrupt entry and serial byte of the recording, by icount (one forward
        replay, made once; the position is kept). None for a Linux program; a cancelled
        replay gives what it saw so far, marked incomplete and not kept."""
        platform = self.firmware
        if platform is None:
            return None
        if self._history is not None:
            return self._history
        here = self.position
        seen = HistoryLog()
        self._goto(0, None, cancel)
        platform.entered = seen.entered
        platform.written = seen.written
        try:
            stop = self._run_until(self.end, 0, None, cancel)
        finally:
            platform.entered = None
            platform.written = None
            self._goto(here, None, None)
        history = seen.history(complete=not isinstance(stop, Interrupted))
        if history.complete:
            self._history = history
        return history

    @property
    def history_read(self) -> FirmwareHistory | None:
        """The firmware history if `firmware_history` has read it already (never replays)."""
        return self._history

    def interrupt_entries(self, cancel: CancelToken | None = None) -> list[EnteredInterrupt]:
        """Every interrupt entry of the recording, in icount order (see `firmware_history`).
        Empty for a Linux program."""
        history = self.firmware_history(cancel)
        return [] if history is None else list(history.entries)

    def _catches(self, number: int) -> bool:
        catch = self.interrupt_catch
        return catch is not None and (not catch or number in catch)

    def _interrupt_stop(self, entry: EnteredInterrupt) -> InterruptEntered:
        platform = self.firmware
        assert platform is not None
        name = platform.board.interrupt_name(entry.number)
        return InterruptEntered(entry.icount, entry.number, name)

    def _previous_entry(self, start: int, cancel: CancelToken | None) -> EnteredInterrupt | None:
        """The last caught interrupt entry before `start`: from the whole recording's
        entries once they are known, else back from the state before `start` (the state at
        an icount names the last entry at or before it, so each step back is one seek)."""
        platform = self.firmware
        known = self._history.entries if self._history is not None else None
        if known is not None:
            before = bisect.bisect_left(known, start, key=lambda entry: entry.icount)
            return next((e for e in reversed(known[:before]) if self._catches(e.number)), None)
        at = start
        while platform is not None and at > 0:
            if isinstance(self._goto(at - 1, None, cancel, checkpoints=False), Interrupted):
                return None
            last = platform.last_interrupt
            if last is None:
                return None
            if self._catches(last.number):
                return last
            at = last.icount
        return None

    def save_named(self, name: str) -> None:
        """Remember the current position under `name` (QEMU's savevm in replay mode)."""
        if not name or len(name) > MAX_NAME:
            raise TimelineError(f"a saved state's name has 1 to {MAX_NAME} characters")
        previous = self.named.get(name) if name in self._pinning else None
        self.named = {**self.named, name: self.position}
        self.cache.add(self._capture(), pin=True)
        self._pinning.add(name)
        if previous is not None:
            self.cache.unpin(previous)  # a replaced name lets its old state go
        self._notify("bookmarks")

    def delete_named(self, name: str) -> None:
        """Forget a saved state; its checkpoint is kept only while other names hold it."""
        if name not in self.named:
            raise TimelineError(f"no saved state named {name!r}")
        icount = self.named[name]
        self.named = {k: v for k, v in self.named.items() if k != name}
        if name in self._pinning:
            self._pinning.discard(name)
            self.cache.unpin(icount)
        self._notify("bookmarks")

    def load_named(self, name: str, progress: Progress | None = None) -> Stop:
        """Go back to a position saved with `save_named` (QEMU's loadvm)."""
        if name not in self.named:
            raise TimelineError(f"no saved state named {name!r}")
        return self.seek(self.named[name], progress)

    # -- moving -----------------------------------------------------------------------------

    def seek(
        self,
        icount: int,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        checkpoints: bool = True,
    ) -> Stop:
        """Go to exactly `icount` (clamped to the end of the recording). With `checkpoints`,
        states are kept on the way, denser towards `icount` (steps back from there replay
        little); without, a jump costs only its replay and the first step back keeps them."""
        if icount < 0:
            raise TimelineError(f"icount {icount} is before the start of the recording")
        self.check_icount(icount)
        stop = self._goto(min(icount, self.end), progress, cancel, checkpoints)
        self._notify("position")
        return stop

    run_to = seek

    def step(
        self, n: int = 1, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        """Execute `n` instructions forward, stopping early at the end of history."""
        return self.seek(self.position + max(0, n), progress, cancel)

    def reverse_step(
        self, n: int = 1, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> Stop:
        """Go `n` instructions back; at icount 0 that is the beginning of history."""
        if self.position == 0:
            return BeginningOfHistory(0)
        return self.seek(max(0, self.position - max(0, n)), progress, cancel)

    def continue_(
        self,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        shown: bool = False,
    ) -> Stop:
        """Run forward to the next breakpoint, watchpoint or replay break, or the end.
        `shown`: a watchpoint stop lands where gdb shows it to its user (see `_land`)."""
        stop = self._continue(progress, cancel, shown)
        self._notify("position")
        return stop

    def reverse_continue(
        self,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        shown: bool = False,
    ) -> Stop:
        """Run backward to the last breakpoint, watchpoint or replay break before here.
        `shown`: a watchpoint stop lands where gdb shows it to its user (see `_land`)."""
        stop = self._reverse_continue(progress, cancel, shown)
        self._notify("position")
        return stop

    def peek(self, icount: int, look: Callable[[], Any]) -> Any:
        """Call `look` with the machine at `icount`, then come back; nobody is notified.

        For views that compare the state with an earlier one (what the last instruction
        changed) without moving anyone's position.
        """
        here = self.position
        if icount == here:
            return look()
        self._goto(max(0, min(icount, self.end)), None, None)
        try:
            return look()
        finally:
            self._goto(here, None, None)

    # -- searches -------------------------------------------------------------------------------

    def find_write(
        self,
        addr: int,
        length: int,
        forward: bool,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Stop:
        """The next (or previous) write to [addr, addr+length), ignoring the user's
        breakpoints and watchpoints."""
        watch = Watchpoint(WatchKind.WRITE, addr, length)
        return self._search(watch, None, forward, progress, cancel)

    def last_write(
        self,
        addr: int,
        length: int,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Stop | None:
        """Go to the write that gave [addr, addr+length) its current value (where a reverse
        watchpoint stops), an instruction's or a syscall's (read() into a buffer); None,
        staying here, when nothing wrote those bytes."""
        here = self.position
        watch = Watchpoint(WatchKind.WRITE, addr, length)
        found = None
        if self.index is not None and here > 0:
            found = self.index.last_before([(addr, length)], here, syscalls=True)
        self.answered_by_index = found is not None
        if found is not None:
            if found.row is None:
                return None
            stop: Stop = self._land(self._indexed_hit(found, [watch]), False, progress)
            self._notify("position")
            return stop
        stop = self._search(watch, None, False, progress, cancel, syscalls=True)
        if isinstance(stop, WatchpointHit | Interrupted):
            return stop
        self.seek(here)
        return None

    def find_register_change(
        self,
        name: str,
        forward: bool,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Stop:
        """The next (or previous) instruction that changes register `name` (a native hook
        looks at every instruction)."""
        self.register(name)
        return self._search(None, name, forward, progress, cancel)

    def _search(
        self,
        watch: Watchpoint | None,
        register: str | None,
        forward: bool,
        progress: Progress | None,
        cancel: CancelToken | None,
        syscalls: bool = False,
    ) -> Stop:
        # Only the search target is armed; the user's breakpoints, watchpoints and replay
        # breaks stay in place, unarmed.
        self.tracer.search(watch, register, syscalls)
        try:
            if forward:
                stop = self._continue(progress, cancel)
            else:
                stop = self._reverse_continue(progress, cancel)
        finally:
            self.tracer.search(None, None)
        self._notify("position")
        return stop

    @property
    def _breaks_in_effect(self) -> frozenset[int]:
        return frozenset() if self.tracer.searching else self.replay_breaks

    # -- internals ----------------------------------------------------------------------------

    def _capture(self) -> MachineState:
        share = self.cache.nearest(self.position)
        return self.proc.capture(self.proc.inputs.log.cursor, share)

    def end_stop(self) -> EndOfHistory:
        """The stop at the end of history, saying how the program ended there."""
        if self.machine.halted is None and self.position >= self.end:
            self.machine.deliver_due_async()  # a signal from outside ended it right here
        status, signal = self._exit if self.machine.halted is not None else (None, None)
        ended = self._exit != (None, None)
        fault = self.recording.guest_fault()
        if fault is not None and self.position >= self.end:
            pc, signal, detail = fault
            return GuestFaulted(self.position, pc=pc, signal=signal, detail=detail)
        return EndOfHistory(
            self.position, status, signal, truncated=self.recording.truncated and not ended
        )

    def _restore(self, state: MachineState) -> None:
        restore_replay_state(self.proc, state, self._exit)

    def _best_state(self, target: int) -> MachineState | None:
        """The closest known state at or before `target`, or None if the current one is:
        a cached state, a snapshot of the recording or a seek point of its index."""
        here = self.position
        if here <= target <= here + CHECKPOINT_SPACING[0] and self.machine.halted is None:
            return None  # a few instructions ahead: running them beats any restore
        cached = self.cache.nearest(target)
        snap_index = self.recording.snapshots.nearest(target)
        snaps = self.recording.snapshots
        snap_icount = snaps.entries[snap_index].icount if snap_index is not None else -1
        seek = self.index.seeks.nearest(target) if self.index is not None else None
        best_known = max(cached.icount if cached else -1, snap_icount, -1 if seek is None else seek)
        if here <= target and here >= best_known and self.machine.halted is None:
            return None
        if cached is not None and cached.icount >= best_known:
            return cached
        if seek is not None and seek > snap_icount and self.index is not None:
            state = self.index.seeks.state(self.recording, seek)
            if state is not None:
                self.cache.add(state)
                return state
            return self._best_state(target)  # the seek points are set aside now
        assert snap_index is not None
        return snaps.state(snap_index)

    def _goto(
        self,
        target: int,
        progress: Progress | None,
        cancel: CancelToken | None,
        checkpoints: bool = True,
    ) -> Stop:
        """Position the machine exactly at `target` with the tracer disarmed."""
        if target == self.position and (self.machine.halted is None or target == self.end):
            return self.end_stop() if self.at_end else Reached(target)
        state = self._best_state(target)
        log.debug(
            "goto %d from %s", target,
            "here" if state is None else f"a state at {state.icount}",
        )  # fmt: skip
        if state is not None:
            self._restore(state)
        start = self.position
        marks = self._checkpoint_marks(start, target) if checkpoints else []
        return self._replay_to(target, start, progress, cancel, marks)

    def _replay_to(
        self,
        target: int,
        start: int,
        progress: Progress | None,
        cancel: CancelToken | None,
        marks: list[int],
    ) -> Stop:
        """From the state restored at `start`, run to `target` with the tracer disarmed,
        keeping the states at `marks` (the interval's blocks taught first, with an index)."""
        self._teach_blocks(target)
        self.tracer.disarm()
        return self._run_until(target, start, progress, cancel, marks)

    def steps_back_start(self) -> MachineState | None:
        """The known state a first step back from here would replay from, when that replay
        would keep states on its way (here was reached by a jump without checkpoints);
        None: a step back replays little already."""
        here = self.position
        if here == 0 or self.machine.halted is not None:
            return None
        start = self._best_state(here - 1)
        if start is None or not self._missing_marks(start.icount, here):
            return None
        return start

    def keep_steps_back(self, start: MachineState, cancel: CancelToken | None = None) -> Stop:
        """Replay from `start` (see `steps_back_start`) back to here, keeping the states a
        step back would keep, so the first step back after a jump replays as little as the
        next ones; for idle time, which a jump leaves to the user. Interrupted: cancelled
        short of here (the caller puts the machine back)."""
        here = self.position
        marks = self._missing_marks(start.icount, here)
        self._restore(start)
        return self._replay_to(here, start.icount, None, cancel, marks)

    def _missing_marks(self, start: int, target: int) -> list[int]:
        return [m for m in self._checkpoint_marks(start, target) if m not in self.cache]

    def _teach_blocks(self, target: int) -> None:
        """With an index: learn the blocks of the interval of `target` at once (once per
        interval until the counter forgets its blocks), so replaying code run for the first
        time does not stop at every block."""
        counter = self.machine.counter
        if self.index is None or self.position >= target or not counter.listeners:
            # Without listeners the native hook learns new blocks itself, faster than
            # checking and teaching a whole interval's from Python.
            return
        interval = self.index.interval_of(target)
        if (interval, counter.generation) in self._taught or not self.index.indexed(interval):
            return
        self._taught.add((interval, counter.generation))
        counter.teach(self.index.seeks.blocks(interval))

    def _checkpoint_marks(self, start: int, target: int) -> list[int]:
        """Where to keep states while replaying start..target: denser towards the target."""
        spacing: tuple[int, ...] = CHECKPOINT_SPACING
        if self.machine.dirty is not None:
            spacing = FINE_SPACING + spacing
        return sorted(
            {target - d for d in spacing if start < target - d}
            | ({target} if target - start > CHECKPOINT_SPACING[0] else set())
        )

    def _run_until(
        self,
        target: int,
        start: int,
        progress: Progress | None,
        cancel: CancelToken | None,
        marks: list[int] | None = None,
        stop_check: Callable[[], bool] = lambda: False,
    ) -> Stop:
        """Replay forward to `target` in short slices; the tracer decides about hits."""
        m = self.machine
        pending = list(marks or [])
        position = m.icount
        while position < target and m.halted is None:
            if cancel is not None and cancel.cancelled:
                return Interrupted(position)
            goal = min(target, position + self._slice, pending[0] if pending else target)
            began = time.perf_counter()
            ran = self.proc.run(goal - position)
            self.tracer.follow_mappings()
            self._adapt_slice(ran.icount - position, time.perf_counter() - began)
            position = ran.icount
            if ran.failed:
                raise TimelineError(str(ran.error))
            if ran.why == Why.END_OF_LOG:
                self.end = min(self.end, position)
                return self.end_stop()
            if stop_check():
                return Reached(position)
            while pending and pending[0] <= position:
                if pending[0] == position:
                    self.cache.add(self._capture())
                pending.pop(0)
            if progress is not None:
                progress(position - start, target - position)
        if m.halted is not None or position >= self.end:
            return self.end_stop()
        return Reached(position)

    def _adapt_slice(self, ran: int, seconds: float) -> None:
        if ran > 0 and seconds > 0:
            rate = ran / seconds
            self._slice = max(1 << 14, min(1 << 26, int(rate * SLICE_SECONDS)))

    def _continue(
        self, progress: Progress | None, cancel: CancelToken | None, shown: bool = False
    ) -> Stop:
        start = self.position
        if self.at_end:
            return self.end_stop()
        breaks = sorted(b for b in self._breaks_in_effect if b > start)
        target = min([self.end, *breaks[:1]])
        catching = self.interrupt_catch is not None and not self.tracer.searching
        found = None if catching else self._index_search(True, start, target)
        log.debug("continue from %d to at most %d (index: %s)", start, target, found is not None)
        if found is not None:
            if found.row is not None:
                return self._land(self._indexed_hit(found), True, progress, shown)
            stop = self._goto(target, progress, cancel)  # no write on the way: just go there
            if isinstance(stop, Reached) and self.position in self._breaks_in_effect:
                return ReplayBreakHit(self.position)
            return stop
        has_watch = self.tracer.watching
        entries: list[EnteredInterrupt] = []
        platform = self.firmware
        if catching and platform is not None:

            def entered(entry: EnteredInterrupt) -> None:
                if entry.icount > start and self._catches(entry.number):
                    entries.append(entry)
                    self.machine.request_stop()

            platform.entered = entered
        self.tracer.arm(stop_on_hit=True, after=start)
        try:
            while True:
                if has_watch:
                    # A watchpoint hit is only known after its block finished; keep a state
                    # to come back to the instruction right after the access.
                    self.cache.add(self._capture())
                goal = min(target, self.position + self._slice)
                stop = self._run_until(
                    goal, start, progress, cancel,
                    stop_check=lambda: bool(self.tracer.hits or entries),
                )  # fmt: skip
                if (
                    self.tracer.hits
                    or entries
                    or not isinstance(stop, Reached)
                    or self.position >= target
                ):
                    break
        finally:
            self.tracer.disarm()
            if platform is not None:
                platform.entered = None
        # The run stopped at the first of them: an entry, or a hit the tracer saw.
        if entries and (not self.tracer.hits or entries[0].icount < self.tracer.hits[0].icount):
            self._goto(entries[0].icount, progress, None)
            return self._interrupt_stop(entries[0])
        if self.tracer.hits:
            hit = self.tracer.hits[0]
            if hit.watch is not None:
                # The hook stopped the emulator inside the accessing instruction: its store may
                # be done but not the rest of it (registers, pc; the next iteration of a `rep`,
                # a call's jump), though the count already includes it. Start over from a
                # state before it.
                self._restore(self._known_state(hit.icount))
            return self._land(hit, True, progress, shown)
        if isinstance(stop, Reached) and self.position in self._breaks_in_effect:
            return ReplayBreakHit(self.position)
        return stop

    def _known_state(self, icount: int) -> MachineState:
        """The latest cached state or snapshot at or before `icount`."""
        cached = self.cache.nearest(icount)
        snap = self._interval_start(icount)
        return cached if cached is not None and cached.icount >= snap.icount else snap

    def _land(
        self, hit: Hit, forward: bool, progress: Progress | None, shown: bool = False
    ) -> Stop:
        """Go to where gdb expects a hit to stop, and describe it. `shown`: a watchpoint stop
        where gdb shows it to its user (after the access going forward, on it going back) once
        it has stepped over a non-steppable one itself, not where the stub reports it."""
        if hit.register is not None:
            self._goto(hit.icount + 1 if forward else hit.icount, progress, None)
            return RegisterChange(self.position, hit.register, hit.old_value, hit.new_value, hit.pc)
        if hit.watch is None:
            self._goto(hit.icount, progress, None)
            return BreakpointHit(hit.icount, hit.pc, self.thread_at(hit.icount))
        # gdb's convention: steppable watchpoints (x86-64) stop after the access going forwards
        # and on it going backwards; non-steppable ones (AArch64, RISC-V) the other way round.
        after = forward if shown else forward == self.machine.arch.watchpoints_steppable
        landing = hit.icount + 1 if after else hit.icount
        self._goto(landing, progress, None)
        wp = hit.watch
        return WatchpointHit(
            self.position, wp.kind.value, wp.address, wp.length, hit.access_address,
            hit.old, hit.new, hit.pc, self.thread_at(hit.icount), hit.syscall, hit.signal,
        )  # fmt: skip

    def _reverse_continue(
        self, progress: Progress | None, cancel: CancelToken | None, shown: bool = False
    ) -> Stop:
        start = self.position
        if start == 0:
            return BeginningOfHistory(0)
        breaks = [b for b in self._breaks_in_effect if b < start]
        floor = max(breaks) if breaks else 0
        # A caught interrupt entry bounds the scan like a replay break.
        entry = None
        if self.interrupt_catch is not None and not self.tracer.searching:
            entry = self._previous_entry(start, cancel)
            if cancel is not None and cancel.cancelled:
                return Interrupted(self.position)
            if entry is not None and entry.icount >= floor:
                floor = entry.icount
            else:
                entry = None
        hi = start
        wps = self.tracer.in_effect[1]
        if (
            entry is not None
            and not self.tracer.breaking
            and not wps
            and self.tracer.watched_register is None
        ):
            hi = floor  # nothing else to stop at on the way
        found = None if entry is not None else self._index_search(False, start, floor)
        if found is not None:
            if found.row is not None:
                return self._land(self._indexed_hit(found), False, progress, shown)
            hi = floor  # the index says no write in [floor, start): nothing to scan
        # Scan back from the latest known state (cached or snapshot) at least `window` before
        # `hi`; the window doubles each pass, so a write just behind costs a short scan and a
        # far one a number of passes logarithmic in its distance.
        window = CHECKPOINT_SPACING[0]
        while hi > floor:
            state = self._known_state(max(hi - window, 0))
            window *= 2
            log.debug("reverse scan of %d..%d", state.icount, hi)
            lo = max(state.icount, 0)
            if lo < floor:
                lo = floor
                self._goto(floor, None, cancel, checkpoints=False)
            else:
                self._restore(state)
            scanned = start - hi

            def report(done: int, _to_go: int, scanned: int = scanned) -> None:
                if progress is not None:
                    progress(scanned + done, max(0, start - floor - scanned - done))

            self.tracer.arm(stop_on_hit=False, after=-1)
            try:
                # States kept near `hi` make landing on a hit there a short replay.
                marks = self._checkpoint_marks(lo, hi)
                stop = self._run_until(hi, lo, report, cancel, marks)
            finally:
                self.tracer.disarm()
            if isinstance(stop, Interrupted):
                return stop
            hits = [h for h in self.tracer.hits if lo <= h.icount < hi]
            if hits:
                return self._land(hits[-1], False, None, shown)
            hi = lo
        if entry is not None:
            self._goto(floor, None, None)
            return self._interrupt_stop(entry)
        if floor > 0:
            self._goto(floor, None, None)
            return ReplayBreakHit(floor)
        self._goto(0, None, None)
        return BeginningOfHistory(0)

    def _index_search(self, forward: bool, start: int, bound: int) -> Found | None:
        """With only write watchpoints armed and an index: the first write in [start, bound)
        or the last in [bound, start). None: the index cannot answer, replay."""
        tracer = self.tracer
        wps = tracer.in_effect[1]
        if (
            self.index is None
            or not wps
            or tracer.breaking
            or tracer.watched_register is not None
            or any(wp.kind != WatchKind.WRITE for wp in wps)
        ):
            return None
        ranges = [(wp.address, wp.length) for wp in wps]
        if forward:
            found = self.index.first_from(ranges, start, bound)
        else:
            found = self.index.last_before(ranges, start, bound)
        self.answered_by_index = found is not None
        return found

    def _indexed_hit(self, found: Found, watches: Iterable[Watchpoint] | None = None) -> Hit:
        """The hit a watchpoint (of `watches`, else those in effect) would have reported for
        an indexed write: the watched bytes before and after it, from the machine at the
        writing instruction."""
        row = found.row
        assert row is not None
        wp = min(
            (
                w
                for w in (self.tracer.in_effect[1] if watches is None else watches)
                if row.overlap(w.address, w.length)
            ),
            key=lambda w: (w.address, w.length),
        )
        # No checkpoints on the way: a replay from the nearest seek point costs less.
        self._goto(row.icount, None, None, checkpoints=False)
        old = bytearray(self.read_memory(wp.address, wp.length))
        for write in found.earlier_same_instruction:
            write.apply(old, wp.address)
        new = bytearray(old)
        row.apply(new, wp.address)
        span = row.overlap(wp.address, wp.length)
        assert span is not None
        return Hit(
            row.icount, row.pc, watch=wp, access_address=span[0], old=bytes(old),
            new=bytes(new), syscall=row.syscall, signal=row.signal,
        )  # fmt: skip

    def _interval_start(self, icount: int) -> MachineState:
        """The recording snapshot at or before `icount` (cached states are not scanned from:
        their spacing is uneven, the snapshots' is what the scan is sized for)."""
        index = self.recording.snapshots.nearest(icount)
        assert index is not None, "a recording always has a snapshot at icount 0"
        return self.recording.snapshots.state(index)

    def describe(self) -> dict[str, Any]:
        lo, hi = self.snapshot_interval()
        return {
            "icount": self.position,
            "end": self.end,
            "pc": self.pc,
            "interval": (lo, hi),
            "cached_states": len(self.cache),
            "cache_bytes": self.cache.bytes_used,
        }
