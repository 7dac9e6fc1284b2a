"""The ttdbg Textual app: one position (the timeline's) drives every pane."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Event, Key
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from ttdbg.backend.cancel import CancelToken, Progress
from ttdbg.backend.codebreaks import CodeBreakpoint
from ttdbg.backend.densify import Densifier, spacing_for
from ttdbg.backend.engine import Changes, Engine
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.linestep import LineStepper
from ttdbg.backend.stepping import Stepper
from ttdbg.backend.stops import (
    BeginningOfHistory,
    BreakpointHit,
    EndOfHistory,
    Interrupted,
    Reached,
    Stop,
    WatchpointHit,
)
from ttdbg.dwarf.inspector import ExpressionError
from ttdbg.dwarf.types import CType
from ttdbg.errors import TtdbgError
from ttdbg.libraryfunctions import LibraryBreak, LibraryFunctions, function_entries
from ttdbg.session import Session
from ttdbg.symbols import Symbols

from .commands import (
    HELP,
    SETTINGS,
    CommandError,
    parse_command,
    parse_position,
    parse_setting,
)
from .compositor import LineCompositor
from .examine import FIRST, PRINT_LETTERS, examine, parse_format
from .firmware import catch_interrupt, firmware_tabs, interrupt_lanes, jump_to_entry
from .messages import (
    EngineDone,
    GdbAttached,
    InterruptLanes,
    ProgressUpdate,
    SeekRequest,
    TimelineChanged,
)
from .timers import guard_timers
from .view import StateView, ViewBuilder
from .widgets.disassembly import Disassembly
from .widgets.events import Events
from .widgets.frames import Backtrace, FrameSelected, Locals
from .widgets.keyline import KeyLine
from .widgets.marks import Marks
from .widgets.memory import Memory
from .widgets.output import Output
from .widgets.pane import Pane
from .widgets.peripherals import Peripherals
from .widgets.registers import Registers
from .widgets.source import Source
from .widgets.stack import Stack
from .widgets.status import StatusBar
from .widgets.tabbar import Tab, TabBar
from .widgets.threads import Threads
from .widgets.timeline import Timeline

WidgetType = TypeVar("WidgetType", bound=Widget)
Operation = Callable[[CancelToken, Progress], Stop | None]


@dataclass(frozen=True)
class _Outcome:
    """What an engine operation hands back to the UI thread."""

    view: StateView | None  # None: nothing to draw (more steps queued, or an edit)
    stop: Stop | None
    before: int  # the position it started from, for the move history
    error: str
    note: str = ""


# key -> (pane id, tab id or "" for a pane outside the tabs)
PANES: dict[str, tuple[str, str, str]] = {
    "disassembly": ("1", "disasm", ""),
    "source": ("2", "source", ""),
    "registers": ("3", "registers", ""),
    "memory": ("4", "memory", "tab-memory"),
    "stack": ("5", "stack", "tab-stack"),
    "events": ("6", "events", "tab-events"),
    "marks": ("7", "marks", "tab-marks"),
    "output": ("8", "output", "tab-output"),
    "backtrace": ("9", "backtrace", "tab-backtrace"),
    "locals": ("0", "locals", "tab-locals"),
    "threads": ("t", "threads", "tab-threads"),
    "peripherals": ("p", "peripherals", "tab-peripherals"),  # firmware
}


SINGLE_STEPS = frozenset(
    ("stepi", "reverse_stepi", "step_over", "reverse_step_over", "step", "reverse_step", "next",
     "reverse_next", "until")
)  # fmt: skip

# Moves short enough to run on the UI thread when the engine is idle (see `_submit`).
QUICK = frozenset(("stepi",))

# The tabbed panes, in the tab row's order.
TABS = [
    Tab("tab-memory", "memory", "mem"),
    Tab("tab-stack", "stack", "stk"),
    Tab("tab-events", "events", "evt"),
    Tab("tab-marks", "marks", "mrk"),
    Tab("tab-output", "output", "out"),
    Tab("tab-backtrace", "bt", "bt"),
    Tab("tab-locals", "locals", "loc"),
    Tab("tab-threads", "threads", "thr"),
]
PROGRESS_EVERY = 0.05  # seconds between progress messages from the engine
# The screen follows gdb once it has been quiet this long (seconds), and at least this often.
FOLLOW_QUIET = 0.03
FOLLOW_EVERY = 0.25
log = logging.getLogger(__name__)


QUERY_SCREEN = "query-screen"


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help-box { width: auto; max-width: 100%; height: auto; max-height: 100%;
                border: round $accent; }
    #help { width: auto; }
    """
    BINDINGS = [Binding("escape,q,question_mark,enter", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#help-box"))


class MainScreen(Screen[None]):
    """The main screen. A change of focus repaints the two widgets whose focus changed (their
    styles), not the whole screen as Textual's screen does: the focus moves to the command
    line and back for every `:` or `g` command."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        # A step repaints the changed lines of each pane, not every line between them.
        self._compositor = LineCompositor()


class TtdbgApp(App[None]):
    """Scrub a recording: every pane shows the state at the timeline's position."""

    TITLE = "ttdbg"
    CSS = """
    /* The command line lies over the row above the key line (the panes' bottom edge), on a
       layer of its own: opening and closing it changes no other widget's place or size (a
       seek lays nothing out again). */
    Screen { layout: vertical; layers: default command; }
    #status { height: 1; background: $boost; }
    #timeline { height: 3; }
    #main { height: 1fr; }
    #left { width: 3fr; }
    #right { width: 2fr; min-width: 34; }
    Disassembly { height: 2fr; border: round $primary-background; }
    Source { height: 1fr; border: round $primary-background; }
    Registers { height: 1fr; border: round $primary-background; }
    .tabbed { height: 1fr; border: round $primary-background; }
    Pane:focus { border: round $accent; }
    #command { layer: command; dock: bottom; margin-bottom: 1; display: none; height: 1;
               border: none; padding: 0 1; }
    """
    # Every key of the app is a priority binding: it runs in the app's own event loop, in
    # the order typed, before later keys are forwarded to the focused widget. (A plain
    # binding runs only after the focused widget has passed the key back up, by which time
    # the keys typed after it have been forwarded already: `:rc⏎` typed fast lost `rc`.)
    BINDINGS = [
        Binding("i", "move('stepi')", "stepi", priority=True),
        Binding("I", "move('reverse_stepi')", "rsi", priority=True),
        Binding("o", "move('step_over')", "next", priority=True),
        Binding("O", "move('reverse_step_over')", "rnext", show=False, priority=True),
        Binding("s", "move('step')", "step", priority=True),
        Binding("S", "move('reverse_step')", "rstep", show=False, priority=True),
        Binding("l", "move('next')", "next", priority=True),
        Binding("L", "move('reverse_next')", "rnext", show=False, priority=True),
        Binding("c", "move('continue')", "cont", priority=True),
        Binding("C", "move('reverse_continue')", "rcont", priority=True),
        Binding("f", "move('finish')", "finish", show=False, priority=True),
        Binding("F", "move('reverse_finish')", "rfinish", show=False, priority=True),
        Binding("g", "prompt('goto ')", "goto", priority=True),
        Binding("colon", "prompt('')", "cmd", priority=True),
        Binding("u", "history(-1)", "back", show=False, priority=True),
        Binding("ctrl+r", "history(1)", "fwd", show=False, priority=True),
        Binding("m", "prefix('m')", "mark", show=False, priority=True),
        Binding("apostrophe", 'prefix("\'")', "jump", show=False, priority=True),
        Binding("space", "toggle_breakpoint", "break", show=False, priority=True),
        Binding("asterisk", "search(1, True)", "next write", show=False, priority=True),
        Binding("number_sign", "search(-1, True)", "prev write", show=False, priority=True),
        Binding("n", "search(1, False)", "again", show=False, priority=True),
        Binding("N", "search(-1, False)", "again back", show=False, priority=True),
        Binding("right_square_bracket", "interrupt(1)", "next irq", show=False, priority=True),
        Binding("left_square_bracket", "interrupt(-1)", "prev irq", show=False, priority=True),
        Binding("plus", "zoom(1)", "zoom in", show=False, priority=True),
        Binding("minus", "zoom(-1)", "zoom out", show=False, priority=True),
        Binding("escape", "cancel", "cancel", show=False, priority=True),
        Binding("v", "toggle_highlight", "highlight mode", show=False, priority=True),
        *(
            Binding(key, f"show_pane('{name}')", name, show=False, priority=True)
            for name, (key, _pane, _tab) in PANES.items()
        ),
        Binding("ctrl+l", "clear_messages", "clear messages", show=False, priority=True),
        Binding("question_mark", "help", "help", priority=True),
        Binding("q", "quit", "quit", priority=True),
    ]

    def __init__(
        self,
        session: Session,
        gdb_port: int | None = None,
        progress_after: float = 0.25,
        fill_checkpoints: bool = True,
    ) -> None:
        guard_timers()  # a toast's timer could freeze the app (see timers.py)
        super().__init__()
        # Whether the engine fills in checkpoints while idle (seeks then replay little).
        self.fill_checkpoints = fill_checkpoints
        self.densifier: Densifier | None = None
        self.session = session
        self.tl = session.timeline
        rec = self.tl.recording
        self.symbols = Symbols(rec.program_image, rec.program.load_bias)
        self.builder = ViewBuilder(self.tl, self.symbols)
        self.stepper = Stepper(self.tl, self.symbols)
        self.lines = LineStepper(
            self.tl, self.stepper, self.symbols, lambda: self.builder.remember(self.memory_addr)
        )
        # tbreak addresses and library code, removed when hit
        self.temporary: set[int | CodeBreakpoint] = set()
        # gdb-style number -> its locations (gdb's N.1, N.2, ...): each an address, or a
        # library's code wherever the library is mapped
        self.breakpoint_numbers: dict[int, tuple[int | CodeBreakpoint, ...]] = {}
        # A `break FUNC` whose locations the engine thread is looking for, and what the
        # status line says meanwhile (reading a library's symbols the first time takes a
        # fifth of a second for libc: not on this thread).
        self._lookup: Future[_Outcome] | None = None
        self._looking = ""
        # Every library the recording maps, for `break FUNC`; the names of code breakpoints.
        self.library_functions = LibraryFunctions(self.tl.mapped_libraries, rec.files.get)
        self.library_breaks: dict[CodeBreakpoint, LibraryBreak] = {}
        self.watched: dict[tuple[int, int], tuple[str, CType]] = {}  # range -> (expr, type)
        self.print_count = 0
        self.examine_last = FIRST  # x/FMT: what a format leaves out comes from the last one
        self.progress_after = progress_after
        # A fixed address, a register to follow, or None for the stack pointer.
        self.memory_addr: int | str | None = session.layout.get("memory_addr")
        self.view: StateView | None = None
        self.trail: deque[int] = deque(maxlen=12)
        self.hits: set[int] = set()
        self.gdb_port = gdb_port
        self.gdb_server: Any = None
        self.gdb_attached = False
        self.last_stop: Stop | None = None
        # Highlight what the last instruction changed, or (v) what changed since the last view.
        self.since_previous_view = False
        self.previous_registers: dict[str, int] = {}
        self.previous_memory: tuple[int, bytes | None] = (0, None)
        self.previous_view: StateView | None = None  # the last stop before this one
        self.firmware = self.tl.firmware is not None
        self.tabs = firmware_tabs(TABS) if self.firmware else TABS
        self.engine: Engine  # created on mount, when the first view is on screen
        self._in_flight = 0  # operations sent to the engine whose result is not shown yet
        self.views_shown = 0  # how many views have reached the screen (tests wait on it)
        self._prefix: str | None = None
        self._held: deque[Key] | None = None  # keys typed after a command's enter
        self._widgets: dict[type[Widget], Widget] = {}
        self._search: tuple[str, object] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Following gdb: when it last changed the timeline, when the screen started waiting
        # to follow, and whether a follow is pending (set by the engine's subscriber).
        self._changed_at = 0.0
        self._follow_since = 0.0
        self._follow_pending = False

    # -- layout -----------------------------------------------------------------------------

    def _one(self, kind: type[WidgetType]) -> WidgetType:
        """The main screen's widget of this type, found once (a DOM query on every move
        costs more than drawing what changed)."""
        found = self._widgets.get(kind)
        if found is None:
            found = self._widgets[kind] = self.screen_stack[0].query_one(kind)
        assert isinstance(found, kind)
        return found

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        rec = self.tl.recording
        kind = EventKind.SERIAL if self.firmware else EventKind.SYSCALL
        events = [e.icount for e in rec.events if e.kind == kind]
        yield StatusBar(id="status")
        timeline = Timeline(self.tl.end, rec.snapshots.icounts, events, id="timeline")
        timeline.event_word = "serial inputs" if self.firmware else "syscalls"
        yield timeline
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Disassembly(id="disasm")
                yield Source([os.path.dirname(os.path.abspath(rec.path))], id="source")
            with Vertical(id="right"):
                arch = self.tl.machine.arch
                yield Registers(
                    arch.display_registers, {r.name: r.size for r in arch.registers}, id="registers"
                )
                active = self.session.layout.get("tab", self.tabs[0].id)
                tab_bar = TabBar(self.tabs, active, id="tabs")
                yield tab_bar
                for pane in self._tabbed_panes():
                    pane.add_class("tabbed")
                    pane.display = PANES[pane.id or ""][2] == tab_bar.active
                    yield pane
        yield KeyLine(id="keys")
        yield Input(id="command", placeholder=":command (help for the list)", select_on_focus=False)

    def _tabbed_panes(self) -> list[Pane]:
        """The panes under the tab row, only the chosen one on screen."""
        panes: list[Pane] = [
            Memory(id="memory"),
            Stack(id="stack"),
            Events(self.tl.machine.arch.syscall_names, id="events"),
            Marks(id="marks"),
            Output("serial console" if self.firmware else "program output", id="output"),
            Backtrace(id="backtrace"),
            Locals(id="locals"),
        ]
        panes.append(Peripherals(id="peripherals") if self.firmware else Threads(id="threads"))
        return panes

    def on_mount(self) -> None:
        # The thread lane and the first view are read here, before the engine thread exists
        # to own the timeline.
        timeline = self._one(Timeline)
        timeline.thread_index = {t.tid: i for i, t in enumerate(self.tl.recorded_threads())}
        timeline.lane_of = self.tl.thread_lane
        self._apply(self.builder.build(self.memory_addr), None, None)
        self.screen.set_focus(self._one(Disassembly))
        self.engine = Engine(self.tl)
        if self.fill_checkpoints:
            self.densifier = Densifier(self.tl, spacing_for(self.tl.end))
            self.engine.set_idle(self.densifier)
        self._unsubscribe = self.engine.subscribe(self._on_timeline_change)
        if self.firmware:  # the interrupt lanes and the serial text: one replay, first thing
            self._submit(self._read_firmware_history)
        problems = self.session.problem_line()
        if problems is not None:
            self.notify(problems, severity="warning", timeout=10)
        if self.gdb_port is not None:
            self._start_gdb(self.gdb_port)

    def _start_gdb(self, port: int) -> None:
        from ttdbg.backend.gdb.server import GdbServer
        from ttdbg.backend.gdb.stub import GdbStub

        rec = self.tl.recording
        exec_path = f"/ttdbg/{rec.header.get('program', 'program')}"
        self.gdb_server = GdbServer(
            lambda: GdbStub(self.tl, exec_path, rec.program_image),
            port=port,
            on_attach=lambda attached: self.post_message(GdbAttached(attached)),
            engine=self.engine,
        )
        self.gdb_server.start()
        self.notify(f"gdb: target remote 127.0.0.1:{self.gdb_server.address[1]}")

    def _read_firmware_history(self, cancel: CancelToken) -> _Outcome:
        """On the engine thread: read the recording's interrupt entries and serial output,
        send the lanes to the timeline and show the view again (with its serial text)."""
        lanes = interrupt_lanes(self.tl, cancel)
        if lanes is None:
            return _Outcome(None, None, 0, "interrupt entries and serial output not read")
        self.post_message(InterruptLanes(lanes))
        return self._outcome(None, self.tl.position, "")

    def on_interrupt_lanes(self, message: InterruptLanes) -> None:
        self._one(Timeline).show_lanes(message.lanes)

    def action_interrupt(self, direction: int) -> None:
        """]: the next interrupt entry, [: the previous one (firmware)."""
        if not self.firmware:
            self.notify("interrupts are entered only in firmware recordings", severity="warning")
            return
        forward = direction > 0
        self.run_op(
            lambda c, p: jump_to_entry(self.tl, forward, c, lambda at: self._seek(at, c, p)),
            record=True,
        )

    def on_gdb_attached(self, message: GdbAttached) -> None:
        self.gdb_attached = message.attached
        # gdb's requests run on its connection's thread only while the engine is idle:
        # filling in checkpoints would send each of them through the engine's queue.
        self.engine.set_idle(None if message.attached else self.densifier)
        self._refresh_status()

    # -- the engine: operations go to its thread, results come back as messages -------------

    def _on_timeline_change(self, note: Changes) -> None:
        """Someone else (gdb) changed the timeline: follow it (on the engine thread or gdb's
        connection thread, so only a message is posted, and only one until it is followed)."""
        if note.origin != "tui":
            self._changed_at = time.monotonic()
            if not self._follow_pending:
                self._follow_pending = True
                self.post_message(TimelineChanged())

    def on_timeline_changed(self, message: TimelineChanged) -> None:
        self._follow_since = time.monotonic()
        self.set_timer(FOLLOW_QUIET, self._follow)

    def _follow(self) -> None:
        """Show gdb's position once gdb has been quiet for FOLLOW_QUIET, or FOLLOW_EVERY
        after its first change. gdb moves in bursts (a stepi is seven requests, a script
        thousands): a view built after each change took the engine and the GIL from gdb's
        next request (10 ms a stepi instead of 1.3)."""
        now = time.monotonic()
        quiet = now - self._changed_at
        if quiet < FOLLOW_QUIET and now - self._follow_since < FOLLOW_EVERY:
            self.set_timer(FOLLOW_QUIET - quiet, self._follow)
            return
        # Cleared before the view is asked for: a change after this posts a new message,
        # and one before it is in the view (the engine runs the view after that change).
        self._follow_pending = False
        self._refresh_view()

    def _refresh_view(self) -> None:
        """Build a fresh view on the engine thread and show it."""
        self._submit(lambda cancel: self._outcome(None, 0, ""), "tui-view", replace=True)

    def _submit(
        self,
        job: Callable[[CancelToken], _Outcome],
        origin: str = "tui",
        replace: bool = False,
        record: bool = False,
        here: bool = False,
    ) -> Future[_Outcome] | None:
        """Send `job` to the engine thread; its outcome comes back as a message (the future
        that brings it; None when it ran here). A `here` job
        (one instruction forward, a few milliseconds) runs on this thread when the engine is
        idle: the two thread hand-offs and the message cost more than the step itself. Not
        while an outcome is on its way: it was built before this job ran, and shown after
        this one it would put the older state back on screen (a resize's fresh view, built
        at icount 0, arrived after a step to 1 and stayed: the screen said 0, the timeline 1)."""
        if here and self._in_flight == 0:
            ran = self.engine.run_now(job, origin)
            if ran is not None:
                self._show_outcome(ran[0], record)
                return None
        self._in_flight += 1
        future = self.engine.submit(job, origin, replaceable=replace)
        future.add_done_callback(lambda f: self.post_message(EngineDone(f, record)))
        return future

    def run_op(
        self,
        op: Operation,
        record: bool = False,
        moves: bool = True,
        replace: bool = False,
        here: bool = False,
    ) -> None:
        """Send an operation to the engine thread; its view comes back as a message.

        Relative moves (steps) queue up so every key press counts; an absolute move
        (`replace`, a seek while scrubbing) drops queued seeks and cancels a running one, so
        only the latest requested position is computed.
        """
        if moves and self.gdb_attached:
            self.notify("gdb is attached: move time from gdb (the screen follows it)")
            return
        self._submit(
            lambda cancel: self._run_one(op, cancel), replace=replace, record=record, here=here
        )

    def _run_one(self, op: Operation, token: CancelToken) -> _Outcome:
        """On the engine thread: run `op`, then build the view to show (unless more steps
        are queued: they draw once they are done)."""
        started = time.monotonic()
        shown = [0.0]
        before = self.tl.position

        def progress(done: int, to_go: int) -> None:
            now = time.monotonic()
            if now - started >= self.progress_after and now - shown[0] >= PROGRESS_EVERY:
                shown[0] = now
                self.post_message(ProgressUpdate(done, to_go, self.tl.position))

        stop: Stop | None = None
        error = ""
        try:
            self.builder.remember(self.memory_addr)
            stop = op(token, progress)
        except TtdbgError as err:
            error = str(err)
        except Exception as err:  # a bug must cost one operation, not the engine thread
            log.debug("engine operation failed", exc_info=True)
            error = f"internal error: {type(err).__name__}: {err}"
        self.builder.frame_level = 0  # a move shows the innermost frame again
        note = ""
        if isinstance(stop, BreakpointHit):
            self._forget_temporary(stop.address)
        if isinstance(stop, WatchpointHit):
            note = self._typed_watch(stop, backward=stop.icount <= before)
        if not error and self.engine.pending("tui", replaceable=False):
            return _Outcome(None, stop, before, error, note)
        outcome = self._outcome(stop, before, error)
        return _Outcome(outcome.view, outcome.stop, outcome.before, outcome.error, note)

    def _forget_temporary(self, addr: int) -> None:
        """A tbreak at `addr` (or on library code mapped there now) was hit: it goes
        (engine thread)."""
        hit: list[int | CodeBreakpoint] = [addr] if addr in self.temporary else []
        hit += [
            bp
            for bp in self.temporary
            if isinstance(bp, CodeBreakpoint) and addr in self.tl.code_addresses(bp)
        ]
        if not hit:
            return
        # Its number goes too, with all its locations, as gdb deletes a tbreak at its first
        # stop (replaced whole: the UI thread reads it).
        gone = {n for n, places in self.breakpoint_numbers.items() if set(places) & set(hit)}
        for n in gone:
            for where in self.breakpoint_numbers[n]:
                self.temporary.discard(where)
                if not self._numbered_elsewhere(where, gone):
                    self._remove_location(where)
        self.breakpoint_numbers = {
            n: places for n, places in self.breakpoint_numbers.items() if n not in gone
        }

    def _numbered_elsewhere(self, where: int | CodeBreakpoint, numbers: set[int]) -> bool:
        """Another breakpoint number than `numbers` has a location `where`."""
        return any(
            where in places for n, places in self.breakpoint_numbers.items() if n not in numbers
        )

    def _remove_location(self, where: int | CodeBreakpoint) -> None:
        """Take one location out of the timeline (engine thread)."""
        if isinstance(where, CodeBreakpoint):
            self.tl.remove_code_breakpoint(where)
        else:
            self.tl.remove_breakpoint(where)

    def _outcome(self, stop: Stop | None, before: int, error: str) -> _Outcome:
        """The view at the engine's position, with what the operation reported."""
        try:
            view = self.builder.build(self.memory_addr)
        except Exception as err:
            log.debug("building the view failed", exc_info=True)
            return _Outcome(None, stop, before, error or f"internal error: {err}")
        return _Outcome(view, stop, before, error)

    def on_engine_done(self, message: EngineDone) -> None:
        self._in_flight -= 1
        future = message.future
        if future is self._lookup:  # a `break`'s locations: set, or not found
            self._lookup, self._looking = None, ""
            self._refresh_view()  # the marks of library code are where the view says
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:  # the engine stopped under it
            self.notify(f"engine: {error}", severity="error")
            return
        self._show_outcome(future.result(), message.record)

    def _show_outcome(self, outcome: _Outcome, record: bool) -> None:
        if outcome.view is not None:
            moved_from = outcome.before if record else None
            self._apply(outcome.view, outcome.stop, moved_from, outcome.error)
            if outcome.note:
                self.notify(outcome.note)
        else:
            if outcome.error:
                self.notify(outcome.error, severity="error")
            elif outcome.note:
                self.notify(outcome.note)
            self._after_marks_changed()

    def ask(self, question: Callable[[], str]) -> None:
        """Answer a question on the engine thread (print, watch EXPR, ...): its text, or the
        error it raises, comes back as a notification."""

        def job(cancel: CancelToken) -> _Outcome:
            try:
                return _Outcome(None, None, 0, "", note=question())
            except (TtdbgError, ExpressionError, CommandError) as err:
                return _Outcome(None, None, 0, str(err))

        self._submit(job)

    def _typed_watch(self, stop: WatchpointHit, backward: bool) -> str:
        """The old and new values in the watched expression's type (engine thread). As gdb's,
        they are the values before and after the move: a move backwards undoes the write, so
        its old value is the write's new one."""
        watched = self.watched.get((stop.address, stop.length))
        if watched is None:
            return ""
        expr, t = watched
        before, after = (stop.new, stop.old) if backward else (stop.old, stop.new)
        old = self.builder.inspector.format(t, before, self.tl)
        new = self.builder.inspector.format(t, after, self.tl)
        return f"{stop.kind} watchpoint {expr}: old = {old}, new = {new}"

    def on_disassembly_resized(self, message: Disassembly.Resized) -> None:
        if message.rows and message.rows != self.builder.disasm_rows:
            self.builder.disasm_rows = message.rows
            self._refresh_view()

    def on_frame_selected(self, message: FrameSelected) -> None:
        try:
            self.select_frame(message.level)
        except CommandError as err:
            self.notify(str(err), severity="error")

    def select_frame(self, level: int) -> None:
        """Show another frame's variables (up/down/frame N) without moving in time."""
        view = self.view
        if view is None or not view.backtrace:
            raise CommandError("No stack.")
        if level < 0:
            raise CommandError("Bottom (innermost) frame selected; you cannot go down.")
        if level >= len(view.backtrace):
            raise CommandError("Initial frame selected; you cannot go up.")
        self.builder.frame_level = level
        self.notify(view.backtrace[level].describe(with_pc=level > 0))
        self._refresh_view()

    def _frame(self) -> Any:
        """The selected frame (engine thread; None without debug info)."""
        frames = self.builder.inspector.unwind(self.tl)
        level = min(self.builder.frame_level, len(frames) - 1)
        return frames[level] if frames else None

    def edit(self, change: Callable[[], object], done: str = "") -> None:
        """Change breakpoints or watchpoints on the engine thread; the marks redraw after."""

        def job(cancel: CancelToken) -> _Outcome:
            try:
                change()
            except TtdbgError as err:
                return _Outcome(None, None, 0, str(err))
            return _Outcome(None, None, 0, "", note=done)

        self._submit(job)

    @property
    def idle(self) -> bool:
        """No engine operation queued, running, or with its result still on the way, and no
        change of gdb's waiting to be shown."""
        return self._in_flight == 0 and not self._follow_pending

    def on_progress_update(self, message: ProgressUpdate) -> None:
        if self._in_flight:
            self._show_progress(message.done, message.to_go, message.icount)

    def _show_progress(self, done: int, to_go: int, icount: int) -> None:
        self._one(KeyLine).show_progress(done, done + to_go)
        # The header shows the moving icount, as the engine reported it.
        self._one(StatusBar).show_progress(icount, self.tl.end, "escape cancels")

    def _apply(
        self, view: StateView, stop: Stop | None, moved_from: int | None, error: str = ""
    ) -> None:
        """Show a freshly built view everywhere (UI thread)."""
        if self.view is not None and self.view.icount != view.icount:
            self.previous_view = self.view
            self.trail.append(self.view.pc)
            self.previous_registers = self.view.registers
            self.previous_memory = (self.view.memory_addr, self.view.memory)
        self.view = view
        self.last_stop = stop
        self.views_shown += 1
        self._one(KeyLine).hide_progress()
        if moved_from is not None:
            self.session.note_move(moved_from, view.icount)
        if isinstance(stop, BreakpointHit | WatchpointHit):
            self.hits.add(stop.icount)
        self._one(Timeline).show(view.icount, self.hits, self.session.bookmarks)
        self._one(Disassembly).show(view, self._marked(view), set(self.trail))
        self._one(Source).show(view)
        self._one(Registers).show(view, self._changed_for(view))
        self._paint_tab(self._one(TabBar).active)
        self._refresh_status()
        if error:
            self.notify(error, severity="error")
        elif isinstance(stop, BeginningOfHistory | EndOfHistory | Interrupted | WatchpointHit):
            self.notify(stop.describe())

    def _paint_tab(self, tab: str) -> None:
        """Show the view in the pane of the tab on screen; the others are filled when their
        tab is chosen (every move would otherwise redraw seven panes, five of them hidden)."""
        view = self.view
        if view is None:
            return
        painters: dict[str, Callable[[StateView], None]] = {
            "tab-memory": self._show_memory,
            "tab-stack": self._one(Stack).show,
            "tab-events": self._one(Events).show,
            "tab-marks": lambda _view: self._refresh_marks(),
            "tab-output": self._one(Output).show,
            "tab-backtrace": self._one(Backtrace).show,
            "tab-locals": self._one(Locals).show,
            "tab-threads": lambda view: self._one(Threads).show(view),
            "tab-peripherals": lambda view: self._one(Peripherals).show(
                view.peripherals, self.previous_view.peripherals if self.previous_view else ()
            ),
        }
        paint = painters.get(tab)
        if paint is not None:
            paint(view)

    def on_tab_bar_chosen(self, message: TabBar.Chosen) -> None:
        self.action_show_pane(message.tab.removeprefix("tab-"))

    def _show_tab(self, tab: str) -> None:
        """Put the pane of `tab` under the tab row, filled with the view."""
        tab_bar = self._one(TabBar)
        if tab != tab_bar.active:
            for _key, pane, of_tab in PANES.values():
                if of_tab in (tab, tab_bar.active):
                    self.query_one(f"#{pane}").display = of_tab == tab
            tab_bar.choose(tab)
            self._paint_tab(tab)

    def _marked(self, view: StateView) -> frozenset[int]:
        """The addresses a breakpoint applies at in `view`: the plain ones, and where the
        libraries with breakpoints on their code are mapped at its position."""
        code = self.tl.code_breakpoints
        here = (a for bp, addrs in view.code_breaks if bp in code for a in addrs)
        return self.tl.breakpoints | frozenset(here)

    def _library_break(self, bp: CodeBreakpoint) -> LibraryBreak:
        known = self.library_breaks.get(bp)
        if known is None:
            known = self.library_breaks[bp] = self.library_functions.at(bp)
        return known

    def _where_here(self, bp: CodeBreakpoint) -> str:
        """Where a library's code applies at the position shown, for the marks pane."""
        addrs = dict(self.view.code_breaks).get(bp) if self.view is not None else None
        if addrs is None:
            return "(where: not known yet)"
        return "at " + ", ".join(f"{a:#x}" for a in addrs) if addrs else "(not mapped here)"

    def _location_row(self, where: int | CodeBreakpoint) -> str:
        """One location in the marks pane: a library's by its file name (the pane is
        narrow: info breakpoints gives the path)."""
        if isinstance(where, int):
            return f"{where:#x} {self.symbols.describe(where)}"
        lib = self._library_break(where)
        return f"{lib.function} in {os.path.basename(lib.library)} {self._where_here(where)}"

    def _code_rows(self) -> list[str]:
        """`FUNC in LIBRARY` and where it applies at the position shown, for each breakpoint
        on a library's code that is one breakpoint's only location."""
        grouped = {where for _n, places in self._multiple() for where in places}
        return [
            self._location_row(bp) for bp in sorted(self.tl.code_breakpoints) if bp not in grouped
        ]

    def _multiple(self) -> list[tuple[int, tuple[int | CodeBreakpoint, ...]]]:
        """The breakpoints with several locations, by number."""
        return sorted((n, p) for n, p in self.breakpoint_numbers.items() if len(p) > 1)

    def _location_groups(self) -> list[tuple[str, list[str]]]:
        """Each breakpoint with several locations, as gdb lists it: `N: K locations`, then
        each location N.M in address order at the position shown (a library's not mapped
        there last)."""
        return [
            (
                f"{n}: {len(places)} locations",
                [f"{n}.{m} {self._location_row(w)}" for m, w in enumerate(self._shown(places), 1)],
            )
            for n, places in self._multiple()
        ]

    def _shown(self, places: Sequence[int | CodeBreakpoint]) -> list[int | CodeBreakpoint]:
        """Locations in gdb's N.M order at the position shown: by address, a library's not
        mapped there last (in the order given)."""
        here = dict(self.view.code_breaks) if self.view is not None else {}

        def key(where: int | CodeBreakpoint) -> tuple[int, int]:
            if isinstance(where, int):
                return (0, where)
            addrs = here.get(where)
            return (0, min(addrs)) if addrs else (1, 0)

        return sorted(places, key=key)

    def _stop_number(self, addr: int) -> str:
        """gdb's number of the breakpoint stopped at `addr` at the position shown: N, or N.M
        for one of its several locations ('' when no numbered breakpoint is there)."""
        here = dict(self.view.code_breaks) if self.view is not None else {}
        for n, places in sorted(self.breakpoint_numbers.items()):
            for m, where in enumerate(self._shown(places), 1):
                if addr in ((where,) if isinstance(where, int) else here.get(where, ())):
                    return f"{n}.{m}" if len(places) > 1 else str(n)
        return ""

    def _refresh_marks(self) -> None:
        grouped = {where for _n, places in self._multiple() for where in places}
        self._one(Marks).show(
            frozenset(a for a in self.tl.breakpoints if a not in grouped),
            self.tl.watchpoints,
            self.tl.replay_breaks,
            self.session.bookmarks,
            self.symbols,
            self.tl.interrupt_catch,
            self._interrupt_name,
            self._code_rows(),
            self._location_groups(),
        )

    def _interrupt_name(self, number: int) -> str:
        firmware = self.tl.firmware
        return firmware.board.interrupt_name(number) if firmware is not None else str(number)

    def _refresh_status(self) -> None:
        if self.view is None:
            return
        gdb = ""
        if self.gdb_server is not None:
            port = self.gdb_server.address[1]
            gdb = f"gdb :{port}"
            if self.gdb_attached:
                gdb = f"gdb attached :{port} (time follows gdb)"
        stop = self.last_stop
        note = stop.describe() if stop is not None and not isinstance(stop, Reached) else ""
        number = self._stop_number(stop.address) if isinstance(stop, BreakpointHit) else ""
        if number:  # gdb: "Breakpoint 1.2, dup_fn (v=1)"
            note = f"breakpoint {number} at {note.removeprefix('breakpoint at ')}"
        note = self._looking or note
        self._one(StatusBar).show(
            self.view,
            os.path.basename(self.tl.recording.path),
            self.tl.machine.arch.name,
            gdb,
            note,
        )

    # -- actions ------------------------------------------------------------------------------

    def _ops(self) -> dict[str, Operation]:
        tl, st, ln = self.tl, self.stepper, self.lines
        return {
            "stepi": lambda c, p: tl.stepi(True, c),
            "reverse_stepi": lambda c, p: tl.stepi(False, c),
            "step_over": lambda c, p: st.step_over(p, c),
            "reverse_step_over": lambda c, p: st.reverse_step_over(p, c),
            "continue": lambda c, p: tl.continue_(p, c, shown=True),
            "reverse_continue": lambda c, p: tl.reverse_continue(p, c, shown=True),
            "finish": lambda c, p: st.finish(p, c),
            "step": lambda c, p: ln.step(p, c),
            "reverse_step": lambda c, p: ln.reverse_step(p, c),
            "next": lambda c, p: ln.next(p, c),
            "reverse_next": lambda c, p: ln.reverse_next(p, c),
            "until": lambda c, p: ln.until(p, c),
            "reverse_finish": lambda c, p: st.reverse_finish(p, c),
        }

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The app's keys are off while the command line, a dialog or a key prefix
        (m, ') takes the keys; escape still cancels."""
        if action == "cancel":
            return True
        if len(self.screen_stack) > 1 or self._prefix is not None:
            return False
        return not isinstance(self.focused, Input)

    def action_move(self, name: str) -> None:
        # Navigation history (u / ctrl+r) records jumps, not single steps.
        self.run_op(self._ops()[name], record=name not in SINGLE_STEPS, here=name in QUICK)

    def seek(self, icount: int, record: bool = True) -> None:
        self.run_op(partial(self._seek, icount), record=record, replace=True)

    def _seek(self, icount: int, cancel: CancelToken, progress: Progress) -> Stop:
        """Go to `icount` by way of the instruction before it (engine thread): the view
        shows what that last instruction changed, and one replay from a snapshot costs less
        than a second one to look back. A jump keeps no states on the way (capturing them
        cost half of it): the densifier keeps them once the engine is idle, else the first
        step back does."""
        tl = self.tl
        if 0 < icount <= tl.end and icount != tl.position:
            stop = tl.seek(icount - 1, progress, cancel, checkpoints=False)
            if not isinstance(stop, Reached):
                return stop
            self.builder.remember(self.memory_addr)
        return tl.seek(icount, progress, cancel, checkpoints=False)

    def on_seek_request(self, message: SeekRequest) -> None:
        self.seek(message.icount, message.record)

    def action_history(self, direction: int) -> None:
        here = self.position
        target = self.session.go_back(here) if direction < 0 else self.session.go_forward(here)
        if target is None:
            self.notify("no more navigation history")
            return
        self.seek(target, record=False)

    def action_prefix(self, prefix: str) -> None:
        self._prefix = prefix

    async def on_event(self, event: Event) -> None:
        """Every key is routed here, in the order typed, before the next one is looked at.

        Textual forwards a key the app's priority bindings do not take to the focused widget's
        queue, and that widget's own bindings (up, down, enter on a row) run only once the key
        has bubbled back up to the app, several queue hops later; the keys typed after it are
        handled meanwhile (`Down Space` set the breakpoint on the old row, `m b ?` lost the
        `?`). So a key for one of the panes runs its binding here at once; a key for the
        command line is forwarded as before, but the keys after its enter wait until the
        command has run.
        """
        if not isinstance(event, Key) or event.is_forwarded:
            await super().on_event(event)
        elif self._held is not None:
            self._held.append(event)
        else:
            await self._route_key(event)

    async def _route_key(self, event: Key) -> None:
        if event.key == "ctrl+j":
            # Typed before the terminal is in raw mode, enter arrives as a line feed.
            event = Key("enter", "\r")
        on_main = len(self.screen_stack) == 1
        if on_main and self._prefix is not None and self._end_prefix(event):
            return
        if on_main and isinstance(self.focused, Pane | Timeline):
            if not await self._check_bindings(event.key, priority=True):
                await self._check_bindings(event.key)
            return
        at_prompt = on_main and isinstance(self.focused, Input) and self.focused.id == "command"
        await super().on_event(event)
        if at_prompt and event.key == "enter":
            self._held = deque()  # released by on_input_submitted

    async def _release_held_keys(self) -> None:
        """The keys typed after a command's enter, now that it has run (one of them may be
        the enter of the next command: the rest wait for that one)."""
        held, self._held = self._held or deque(), None
        while held and self._held is None:
            await self._route_key(held.popleft())
        if held:
            self._held = deque([*held, *(self._held or ())])

    def _end_prefix(self, event: Key) -> bool:
        """The key after `m` or `'`: a letter names the bookmark; any other key cancels the
        prefix and then does what it always does (True: the key was used)."""
        prefix, self._prefix = self._prefix, None
        letter = event.character or ""
        if not (len(letter) == 1 and letter.isalpha()):
            return False
        if prefix == "m":
            self.session.bookmarks[letter] = self.position
            self.notify(f"bookmark '{letter} at icount {self.position:,}")
            self._after_marks_changed()
        elif letter in self.session.bookmarks:
            self.seek(self.session.bookmarks[letter])
        else:
            self.notify(f"no bookmark '{letter}", severity="warning")
        return True

    def _after_marks_changed(self) -> None:
        if self.view is not None:
            self._one(Disassembly).show(self.view, self._marked(self.view), set(self.trail))
        self._refresh_marks()
        timeline = self._one(Timeline)
        timeline.show(timeline.position, self.hits, self.session.bookmarks)

    def action_toggle_breakpoint(self) -> None:
        addr = self._one(Disassembly).selected
        if addr is None:
            return
        self.edit(partial(self._toggle, addr))
        self._refresh_view()  # the marks of library code are where the view says

    def _toggle(self, addr: int) -> None:
        """Remove the breakpoints that apply at `addr` here, or set one: on the library's
        code if a library is mapped there (engine thread)."""
        tl = self.tl
        hit = [bp for bp in tl.code_breakpoints if addr in tl.code_addresses(bp)]
        for bp in hit:
            tl.remove_code_breakpoint(bp)
        gone: list[int | CodeBreakpoint] = [*hit]
        if addr in tl.breakpoints:
            tl.remove_breakpoint(addr)
            gone.append(addr)
        if gone:
            self._drop_locations(gone)
        else:
            code = tl.code_breakpoint_at(addr)
            if code is None:
                tl.add_breakpoint(addr)
            else:
                tl.add_code_breakpoint(code)

    def _drop_locations(self, gone: list[int | CodeBreakpoint]) -> None:
        """Locations taken out one by one leave their breakpoints' numbers, and a number left
        with none goes (engine thread; replaced whole: the UI thread reads it)."""
        kept = {
            n: tuple(where for where in places if where not in gone)
            for n, places in self.breakpoint_numbers.items()
        }
        self.breakpoint_numbers = {n: places for n, places in kept.items() if places}
        self.temporary.difference_update(gone)

    def action_search(self, direction: int, new_target: bool) -> None:
        """Next (1) or previous (-1) change of the selected register or memory row."""
        if new_target or self._search is None:
            focused = self.focused
            if isinstance(focused, Registers) and focused.selected:
                self._search = ("register", focused.selected)
            elif isinstance(focused, Memory):
                self._search = ("memory", focused.selected)
            else:
                self.notify("select a register or a memory row first", severity="warning")
                return
        kind, target = self._search
        forward = direction > 0

        def search(cancel: CancelToken, progress: Progress) -> Stop:
            if kind == "memory":
                return self.tl.find_write(int(str(target)), 8, forward, progress, cancel)
            return self.tl.find_register_change(str(target), forward, progress, cancel)

        self.run_op(search, record=True)

    def _changed_for(self, view: StateView) -> frozenset[str]:
        if not self.since_previous_view or not self.previous_registers:
            return view.changed
        before = self.previous_registers
        return frozenset(n for n, v in view.registers.items() if before.get(n) != v)

    def _memory_changed_for(self, view: StateView) -> frozenset[int]:
        addr, before = self.previous_memory
        if not self.since_previous_view or before is None or view.memory is None:
            return view.memory_changed
        if addr != view.memory_addr:
            return frozenset()  # another place: nothing to compare with
        pairs = zip(before, view.memory, strict=False)  # a shorter read near the end of a map
        return frozenset(i for i, (a, b) in enumerate(pairs) if a != b)

    def _show_memory(self, view: StateView) -> None:
        follows = self.memory_addr if isinstance(self.memory_addr, str) else None
        self._one(Memory).show(view, follows, self._memory_changed_for(view))

    def action_toggle_highlight(self) -> None:
        self.since_previous_view = not self.since_previous_view
        mode = "since the previous view" if self.since_previous_view else "by the last instruction"
        self.notify(f"registers and memory highlighted when changed {mode}")
        if self.view is not None:
            self._one(Registers).show(self.view, self._changed_for(self.view))
            self._show_memory(self.view)

    def action_zoom(self, delta: int) -> None:
        timeline = self._one(Timeline)
        timeline.zoom = max(0, min(40, timeline.zoom + delta))

    def action_cancel(self) -> None:
        self.engine.cancel("tui")
        if self.screen.id == QUERY_SCREEN or isinstance(self.screen, HelpScreen):
            self.pop_screen()  # escape (an app-wide priority key) closes the query screen too
            return
        command = self.query_one("#command", Input)
        if command.display:
            command.display = False
            self.screen.set_focus(self._one(Disassembly))

    def action_show_pane(self, name: str) -> None:
        """Bring a pane into view (its tab) and give it the keys."""
        if name not in PANES:
            raise CommandError(f"no pane {name!r} (one of: {', '.join(PANES)})")
        _key, pane, tab = PANES[name]
        if tab and all(t.id != tab for t in self.tabs):
            self.notify(f"no {name} pane for this recording", severity="warning")
            return
        if tab:
            self._show_tab(tab)
        # Focus is set at once everywhere (Widget.focus() would defer it past keys already
        # queued, which then land in the wrong place: a prompt opened right after loses them).
        self.screen.set_focus(self.query_one(f"#{pane}"))

    def action_clear_messages(self) -> None:
        """ctrl+l: the messages in the corner go (they cover the panes under them)."""
        self.clear_notifications()
        self.refresh()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_prompt(self, text: str) -> None:
        command = self.query_one("#command", Input)
        command.display = True  # at once: a hidden widget loses the focus at the next layout
        command.value = text
        command.cursor_position = len(text)
        # Focus now, not after the queued events (as focus() would): keys typed ahead of
        # the prompt, a paste of ":rc⏎", are already queued and must go into it, in order.
        self.screen.set_focus(command)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.screen.set_focus(self._one(Disassembly))
        try:
            self.execute(event.value)
        except (CommandError, TtdbgError, ExpressionError) as err:
            self.notify(str(err), severity="error")
        await self._release_held_keys()

    def execute(self, line: str) -> None:
        """Run one `:` command."""
        cmd = parse_command(line)
        ops = self._ops()
        if cmd.action in ops:
            self.action_move(cmd.action)
        elif cmd.action == "goto":
            self.seek(parse_position(cmd.arg, self.tl.end))
        elif cmd.action in ("break", "tbreak"):
            self._break_command(cmd.arg, temporary=cmd.action == "tbreak")
        elif cmd.action == "delete":
            self._delete_numbers(cmd.arg)
        elif cmd.action in ("watch", "rwatch", "awatch"):
            kind = {"watch": "write", "rwatch": "read", "awatch": "access"}[cmd.action]
            self.ask(lambda: self._watch(kind, cmd.arg))
        elif cmd.action == "print":
            fmt, expr = (
                cmd.arg[1:].partition(" ")[::2] if cmd.arg.startswith("/") else ("", cmd.arg)
            )
            if fmt and (len(fmt) != 1 or fmt not in PRINT_LETTERS):
                raise CommandError(f'print/{fmt}: not a print format (one of "{PRINT_LETTERS}")')
            self.ask(lambda: self._numbered(self._print_value(expr.strip(), fmt)))
        elif cmd.action == "display":
            self.builder.displays.append(cmd.arg)
            self._refresh_view()
        elif cmd.action == "undisplay":
            self.builder.displays.clear()
            self._refresh_view()
        elif cmd.action == "frame":
            if not (cmd.arg or "0").isdigit():
                raise CommandError(f"frame: not a frame number: {cmd.arg!r}")
            self.select_frame(int(cmd.arg or "0"))
        elif cmd.action in ("up", "down"):
            count = int(cmd.arg) if cmd.arg.isdigit() else 1
            self.select_frame(self.builder.frame_level + (count if cmd.action == "up" else -count))
        elif cmd.action == "backtrace":
            self.action_show_pane("backtrace")
        elif cmd.action == "info":
            self._info(cmd.arg)
        elif cmd.action == "examine" and cmd.arg.startswith("/"):
            text, _, where = cmd.arg[1:].partition(" ")
            unit = parse_format(text, self.examine_last)
            self.examine_last = unit.remembered(self.examine_last)
            addr = self._address(where)
            self.ask(
                lambda: examine(
                    unit,
                    addr,
                    self.tl.read_memory,
                    self.symbols.describe_within,
                    self._instructions,
                    self.tl.pc,
                )
            )
        elif cmd.action == "examine":
            name = cmd.arg.strip().lstrip("$")
            registers = self.view.registers if self.view else {}
            follows = cmd.arg.strip().startswith("$") and name in registers
            self.memory_addr = name if follows else self._address(cmd.arg)
            self._show_tab("tab-memory")
            self._refresh_view()
        elif cmd.action == "last":
            where, _, length = cmd.arg.partition(" ")
            addr, size = self._address(where), int(length or "8", 0)
            self.run_op(
                lambda cancel, progress: self.tl.last_write(addr, size, progress, cancel), True
            )
        elif cmd.action == "origin":
            addr = self._address(cmd.arg)
            self._submit(lambda _cancel: self._origin(addr))
        elif cmd.action == "catch":
            self.ask(lambda: catch_interrupt(self.tl, cmd.arg, CancelToken()))
        elif cmd.action == "query":
            self.open_query(cmd.arg)
        elif cmd.action == "mark":
            self.session.bookmarks[cmd.arg or "a"] = self.position
            self._after_marks_changed()
        elif cmd.action == "set":
            self._set(*parse_setting(cmd.arg))
        elif cmd.action == "show" and cmd.arg.strip() in SETTINGS:
            flavor = self.builder.disassembler.flavor
            self.notify(f'The disassembly flavor is "{flavor}".')
        elif cmd.action == "show":
            self.action_show_pane(cmd.arg.strip())
        elif cmd.action == "help":
            self.action_help()
        elif cmd.action == "quit":
            self.quit_app()

    def _set(self, name: str, value: str) -> None:
        """`set disassembly-flavor VALUE`: x86's syntax for the pane and x/i, changed on the
        engine thread (which decodes) and shown in a fresh view."""
        if not self.builder.disassembler.x86:
            arch = self.tl.machine.arch.name
            raise CommandError(f"set {name}: only x86-64 has flavors (this recording: {arch})")

        def job(cancel: CancelToken) -> _Outcome:
            self.builder.set_flavor(value)
            return self._outcome(None, 0, "")

        self._submit(job)

    def _numbered(self, text: str) -> str:
        """`$N = text`: as in gdb, only values printed get a number (engine thread)."""
        self.print_count += 1
        return f"${self.print_count} = {text}"

    def _print_value(self, expr: str, letter: str) -> str:
        """`print EXPR` or `print/LETTER EXPR` (engine thread)."""
        inspector = self.builder.inspector
        if not letter:
            return inspector.print(expr, self._frame(), self.tl)
        return inspector.print_formatted(expr, letter, self._frame(), self.tl)

    def _instructions(self, addr: int, count: int) -> list[tuple[int, str]]:
        """`count` instructions from `addr` for x/i, spelled as gdb spells them (engine
        thread)."""
        code = b""
        for size in (16 * count, 16):  # less where the mapping ends
            try:
                code = self.tl.read_memory(addr, size)
                break
            except TtdbgError:
                continue
        found = self.builder.disassembler.disassemble(
            code, addr, count, self.symbols.describe_within
        )
        return list(found)

    def open_query(self, sql: str = "") -> None:
        """The query screen over the recording's index; the chosen row's icount is visited."""
        if self.tl.index is None:
            raise CommandError(f"no index: run 'ttdbg index {self.tl.recording.path}'")
        from .widgets.query import QueryScreen

        def chosen(icount: int | None) -> None:
            if icount is not None:
                self.seek(icount)

        self.push_screen(QueryScreen(self.tl.recording, sql, id=QUERY_SCREEN), chosen)

    def _origin(self, addr: int) -> _Outcome:
        """On the engine thread: where the byte at `addr` came from, as a note."""
        tl = self.tl
        if tl.index is None:
            path = tl.recording.path
            return _Outcome(None, None, 0, f"origin needs an index: run 'ttdbg index {path}'")
        from ttdbg.index.origin import Provenance

        chain = Provenance(tl.recording, tl.index).origin(addr, tl.position)
        return _Outcome(None, None, 0, "", note=f"{addr:#x}:\n{chain.describe()}")

    def _break_command(self, arg: str, temporary: bool) -> None:
        """`break`/`tbreak`: its locations are found and set on the engine thread (the first
        lookup of a function reads every library's symbols); the status line says so until
        the answer comes back as a message."""
        name = arg.strip()
        if name and not name.startswith("*") and not name.rpartition(":")[2].isdigit():
            self._looking = f"looking up {name} in the program and its libraries..."
            self._refresh_status()

        def job(cancel: CancelToken) -> _Outcome:
            try:
                note = self._set_break(self._locations(arg), temporary, arg)
            except (TtdbgError, CommandError) as err:
                return _Outcome(None, None, 0, str(err))
            return _Outcome(None, None, 0, "", note=note)

        self._lookup = self._submit(job)

    def _set_break(self, locations: list[int | LibraryBreak], temporary: bool, name: str) -> str:
        """Number a breakpoint with these locations of `name` and set them (engine thread):
        what gdb says of it."""
        tl = self.tl
        number = max(self.breakpoint_numbers, default=0) + 1
        word = "Temporary breakpoint" if temporary else "Breakpoint"
        places: list[int | CodeBreakpoint] = []
        for location in locations:
            if isinstance(location, LibraryBreak):
                self.library_breaks[location.code] = location
                tl.add_code_breakpoint(location.code)
                places.append(location.code)
            else:
                tl.add_breakpoint(location)
                places.append(location)
        if temporary:
            self.temporary.update(places)
        # Replaced whole: the UI thread reads it.
        self.breakpoint_numbers = {**self.breakpoint_numbers, number: tuple(places)}
        if len(places) > 1:  # gdb: "Breakpoint 2 at 0x1180: twin. (2 locations)"
            return f"{word} {number}: {name.strip()} ({len(places)} locations)"
        (only,) = locations
        if isinstance(only, LibraryBreak):
            here = tl.code_addresses(only.code)
            where = (
                "here at " + ", ".join(f"{a:#x}" for a in here)
                if here
                else "not mapped here; it stops wherever the library is mapped"
            )
            return f"{word} {number} at {only.function} in {only.library} ({where})"
        at = self.symbols.line_for(only)
        return f"{word} {number} at {only:#x}" + (
            f": file {at.path}, line {at.line}." if at else ""
        )

    def _watch(self, kind: str, expr: str) -> str:
        """A watchpoint on an lvalue, as long as its type (engine thread)."""
        value = self.builder.inspector.lvalue(expr, self._frame(), self.tl)
        assert value.address is not None
        self.tl.add_watchpoint(kind, value.address, value.type.size)
        self.watched[(value.address, value.type.size)] = (expr, value.type)
        return f"{kind} watchpoint on {expr} ({value.type.size} bytes at {value.address:#x})"

    def _locations(self, arg: str) -> list[int | LibraryBreak]:
        """gdb's break locations: LINE, FILE:LINE, FUNC, *ADDR (nothing: the pc) (engine
        thread). FUNC has a location in each file defining a function FUNC, as gdb's: the
        program (each of its files' static ones too), every library the recording maps,
        loaded here or not (the library's code wherever it is mapped), and the dynamic
        loader."""
        arg = arg.strip()
        if not arg:
            return [self.view.pc if self.view is not None else self.tl.pc]
        if arg.startswith("*"):
            return [self._address(arg[1:])]
        file, _, line = arg.rpartition(":")
        if line.isdigit():
            if not file:
                here = self.view.source if self.view is not None else None
                file = here.path if here is not None else ""
            addr = self.symbols.address_of_line(file, int(line))
            if addr is None:
                raise CommandError(f'No line {line} in file "{file or "(none)"}".')
            return [addr]
        found: list[int | LibraryBreak] = list(function_entries(self.symbols, arg))
        in_libraries = self.library_functions.find_all(arg)
        found += in_libraries
        # The files loaded here that are not among the libraries mmap mapped: the dynamic
        # loader (mapped by exec, for the whole run, at one address).
        codes = {lib.code for lib in in_libraries}
        for owner in self.symbols.libraries:
            for addr in function_entries(owner, arg):
                code = self.tl.code_breakpoint_at(addr)
                if code is None and addr not in found:
                    found.append(addr)
                elif code is not None and code not in codes:
                    codes.add(code)
                    found.append(self.library_functions.at(code))
        if not found:
            raise CommandError(
                f'Function "{arg}" not defined (in the program or any library it maps).'
            )
        return found

    def _delete_numbers(self, arg: str) -> None:
        """delete: every breakpoint and watchpoint; delete N...: those breakpoints, each
        with all its locations."""
        if not arg.strip():
            self.breakpoint_numbers = {}
            self.temporary.clear()
            self.watched.clear()
            self.edit(lambda: self._delete(None))
            return
        numbers = set()
        for word in arg.split():
            if not word.isdigit() or int(word) not in self.breakpoint_numbers:
                raise CommandError(f"No breakpoint number {word}.")
            numbers.add(int(word))
        gone = [
            where
            for n in numbers
            for where in self.breakpoint_numbers[n]
            if not self._numbered_elsewhere(where, numbers)
        ]
        self.breakpoint_numbers = {
            n: places for n, places in self.breakpoint_numbers.items() if n not in numbers
        }
        self.temporary.difference_update(gone)

        def remove() -> None:
            for where in gone:
                self._remove_location(where)

        self.edit(remove)
        if any(isinstance(where, CodeBreakpoint) for where in gone):
            self._refresh_view()

    def _delete(self, only: int | None) -> None:
        """Remove one breakpoint, or every breakpoint and watchpoint (engine thread)."""
        tl = self.tl
        for addr in tl.breakpoints:
            if only is None or addr == only:
                tl.remove_breakpoint(addr)
        for bp in tl.code_breakpoints if only is None else ():
            tl.remove_code_breakpoint(bp)
        for wp in tl.watchpoints if only is None else ():
            tl.remove_watchpoint(wp.kind, wp.address, wp.length)

    def _info(self, arg: str) -> None:
        what = arg.strip()
        if what in ("breakpoints", "break", "b", "watchpoints"):
            numbered = sorted(self.breakpoint_numbers.items())
            watched = [f"   {expr} ({t.spelled()})" for expr, t in self.watched.values()]
            self.ask(
                lambda: (
                    "\n".join([*self._breakpoint_rows(numbered), *watched])
                    or "No breakpoints or watchpoints."
                )
            )
            self.action_show_pane("marks")
        elif what in ("locals", "args"):
            self.action_show_pane("locals")
        elif what in ("frame", "stack"):
            self.action_show_pane("backtrace")
        else:
            raise CommandError(f"info {what}: not supported (breakpoints, locals, args, frame)")

    def _breakpoint_rows(
        self, numbered: list[tuple[int, tuple[int | CodeBreakpoint, ...]]]
    ) -> list[str]:
        """`info breakpoints`, as gdb lists them: a breakpoint with several locations on a
        line of its own, then each location N.M, in address order at the position (those
        of libraries not mapped here last); a library's code says where it applies here
        (engine thread)."""
        rows = []
        for n, places in numbered:
            kind = "tbreak" if any(p in self.temporary for p in places) else "break"
            if len(places) == 1:
                rows.append(f"{n}  {kind}  {self._location_text(places[0])}")
                continue
            rows.append(f"{n}  {kind}  <MULTIPLE>")
            for m, where in enumerate(self._in_address_order(places), 1):
                rows.append(f"{n}.{m}  {self._location_text(where)}")
        return rows

    def _in_address_order(
        self, places: Sequence[int | CodeBreakpoint]
    ) -> list[int | CodeBreakpoint]:
        """Locations as gdb numbers them: by address at the position; a library's not mapped
        here after those, in the order given (engine thread)."""

        def key(where: int | CodeBreakpoint) -> tuple[int, int]:
            if isinstance(where, int):
                return (0, where)
            here = self.tl.code_addresses(where)
            return (0, min(here)) if here else (1, 0)

        return sorted(places, key=key)

    def _location_text(self, where: int | CodeBreakpoint) -> str:
        """One location: its address and function, or a library's function and where it
        applies at the position (engine thread)."""
        if isinstance(where, int):
            return f"{where:#x} {self.symbols.describe(where)}"
        lib = self._library_break(where)
        here = self.tl.code_addresses(where)
        at = ("at " + ", ".join(f"{a:#x}" for a in here)) if here else "(not mapped here)"
        return f"{lib.function} in {lib.library} {at}"

    @property
    def position(self) -> int:
        """The icount on screen."""
        return self.view.icount if self.view is not None else 0

    def _address(self, text: str) -> int:
        text = text.strip()
        if text.startswith("$"):
            value = self.view.registers.get(text[1:]) if self.view else None
            if value is None:
                raise CommandError(f"no register named {text[1:]!r}")
            return value
        addr = self.symbols.resolve(text)
        if addr is None:
            raise CommandError(f"no symbol or address {text!r}")
        return addr

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for name in self._ops():
            label = name.replace("_", " ")
            yield SystemCommand(label, f"{label} (ttdbg)", lambda n=name: self.action_move(n))
        yield SystemCommand("go to start", "seek to icount 0", lambda: self.seek(0))
        yield SystemCommand("go to end", "seek to the end", lambda: self.seek(self.tl.end))

    async def action_quit(self) -> None:
        self.quit_app()

    def quit_app(self) -> None:
        self.engine.cancel("tui")
        self.save_session()
        self.exit()

    def save_session(self) -> None:
        tab = self._one(TabBar).active
        self.session.layout = {"tab": tab, "memory_addr": self.memory_addr}
        try:
            self.session.save(position=self.position)
        except OSError as err:
            self.notify(f"could not save the session: {err.strerror}", severity="error")

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.gdb_server is not None:
            self.gdb_server.shutdown()
        self.engine.stop()
