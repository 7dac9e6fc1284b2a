"""Record a program into a recording file: run it natively-like, log inputs, snapshot often."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lz4.frame

from ttdbg import __version__
from ttdbg.errors import UnsupportedProgram
from ttdbg.limits import DEFAULT_MEMORY_LIMIT
from ttdbg.snapshots.codec import SummaryEncoder
from ttdbg.snapshots.state import HASH_VERSION, MachineState, PageDigests, PageSummary, summary_hash

from .baseline import PageBaseline
from .eventlog import EVENTLOG_VERSION, Event, EventKind, EventLogWriter
from .filestore import FileStore
from .inputs import HostInterrupted, LiveInputs, Outcome, SpanOutcome
from .linux.host import HostIO
from .linux.platform import PLATFORM_VERSION
from .linux.threads import SchedulePolicy
from .loader import Program, initial_pages, parse_program, with_interpreter
from .machine import PAGE
from .process import GuestProcess
from .recfile import FrameType, RecordingWriter, encode_events_frame, encode_snapshot_frame
from .recording import shell_status
from .runoutcome import RunOutcome, Why

DEFAULT_SNAPSHOT_EVERY = 20_000_000
KEYFRAME_EVERY = 8
FLUSH_SECONDS = 0.2
FLUSH_EVENTS = 512
# Signals from outside the guest: the terminal's, and the timers the guest arms (setitimer,
# alarm) on this process, which stands for it.
FORWARDED_SIGNALS = (
    signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF,
)  # fmt: skip
HOST_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
SIGNAL_CHECK = 1 << 22  # instructions between looks at signals caught from the terminal

Progress = Callable[[int], None]
# Debian's cross C libraries: where a foreign program's loader and libraries are by default,
# and the package that installs them there.
CROSS_SYSROOTS = {
    "aarch64": ("/usr/aarch64-linux-gnu", "libc6-arm64-cross"),
    "riscv64": ("/usr/riscv64-linux-gnu", "libc6-riscv64-cross"),
}


def cross_sysroot(program: Program) -> tuple[str, str] | None:
    """(Debian's sysroot, its package) for a dynamic program of another architecture than
    the host's, installed or not."""
    if program.interp_path is None or program.arch.name == os.uname().machine:
        return None
    return CROSS_SYSROOTS.get(program.arch.name)


def default_sysroot(program: Program) -> str | None:
    """The sysroot for a program of another architecture than the host's, if installed."""
    cross = cross_sysroot(program)
    return cross[0] if cross is not None and os.path.isdir(cross[0]) else None


@dataclass(frozen=True)
class RecordResult:
    """What a finished recording run produced."""

    path: str
    icount: int
    exit_status: int | None
    exit_signal: int | None
    reason: str  # "exit", "limit" or the error that ended it
    events: int
    snapshots: int
    bytes_written: int

    @property
    def shell_status(self) -> int:
        """The status a shell reports for the guest: 128+signal when a signal ended it."""
        return shell_status(self.exit_status, self.exit_signal)


def resident_bytes() -> int:
    """This process's resident memory (Unicorn's guest memory lives here too)."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _FlushingInputs(LiveInputs):
    """Live inputs that write the pending events to the file regularly."""

    def __init__(self, log: EventLogWriter, flush: Callable[[], None]) -> None:
        super().__init__(log)
        self._flush = flush
        self._last = time.monotonic()

    def _after_append(self) -> None:
        now = time.monotonic()
        if self.log.unwritten >= FLUSH_EVENTS or now - self._last >= FLUSH_SECONDS:
            self._last = now
            self._flush()

    def take(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], Outcome]
    ) -> Outcome:
        outcome = super().take(kind, icount, args, host)
        self._after_append()
        return outcome

    def take_span(
        self, kind: EventKind, icount: int, args: tuple[int, ...], host: Callable[[], SpanOutcome]
    ) -> Outcome:
        outcome = super().take_span(kind, icount, args, host)
        self._after_append()
        return outcome

    def note(self, event: Event) -> None:
        super().note(event)
        self._flush()

    def decide(
        self, kind: EventKind, icount: int, choose: Callable[[], Event | None]
    ) -> Event | None:
        event = super().decide(kind, icount, choose)
        self._after_append()
        return event

    def decided(self, kind: EventKind, rows: Sequence[tuple[int, ...]]) -> None:
        super().decided(kind, rows)
        self._after_append()


class Recorder:
    """Runs one program from its first instruction to its end, writing a recording."""

    program: Program
    image: bytes
    files: FileStore

    def __init__(
        self,
        program_path: str,
        argv: list[bytes],
        env: list[bytes],
        out_path: str,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        max_insns: int | None = None,
        sysroot: str | None = None,
        max_memory: int = DEFAULT_MEMORY_LIMIT,
        schedule: SchedulePolicy | None = None,
        execfn: str | None = None,
    ) -> None:
        self._open_program(program_path, max_memory)
        # AT_EXECFN: the path execve was given (a script's, when the program is its
        # interpreter).
        self.execfn = program_path if execfn is None else execfn
        if not self.program.arch.syscall_numbers:
            raise UnsupportedProgram(
                f"{program_path}: {self.program.arch.name} code is firmware, not a Linux "
                "program; record it on a machine (--machine NAME)"
            )
        self.sysroot = sysroot if sysroot is not None else default_sysroot(self.program)
        host = HostIO(
            os.path.abspath(program_path), self.program.arch.stat_layout, self.files, self.sysroot
        )
        if self.program.interp_path is not None:
            self.program = self._attach_loader(self.program, host)
        self.argv, self.env = argv, env
        self.snapshot_every = max(1, snapshot_every)
        self.max_insns = max_insns
        self.log = EventLogWriter()
        self.out = RecordingWriter(out_path)
        self.inputs = _FlushingInputs(self.log, self.flush_events)
        self.host = host
        self.process = GuestProcess(
            self.program, self.inputs, host, files=self.files, schedule=schedule
        )
        self.digests = PageDigests()
        self.baseline = PageBaseline(initial_pages(self.program), self.files)
        self.encoder = SummaryEncoder(self.baseline)
        self.previous: PageSummary | None = None
        self.snapshot_count = 0
        self.snapshot_bytes = [0, 0]  # raw, compressed

    def _open_program(self, program_path: str, max_memory: int) -> None:
        """Read and parse the program file, with a fresh file store (every recorder's start)."""
        self.max_memory = max_memory
        self.over_memory = False
        with open(program_path, "rb") as f:
            self.image = f.read()
        self.program_path = program_path
        self.files = FileStore(recording=True)
        self.program = parse_program(self.image, program_path)

    def _attach_loader(self, program: Program, host: HostIO) -> Program:
        """Find the program's dynamic loader (under the sysroot first) and store it."""
        path = program.interp_path or ""
        try:
            with open(host.host_path(path), "rb") as f:
                image = f.read()
        except OSError as err:
            cross = cross_sysroot(program)
            root = self.sysroot or (cross[0] if cross is not None else None)
            looked = [root.rstrip("/") + path] if root else []
            # Debian's package when its sysroot was the place looked in (installed or not).
            library = (
                f"Debian's {cross[1]}"
                if cross is not None and root == cross[0]
                else f"the {program.arch.name} C library"
            )
            raise UnsupportedProgram(
                f"{self.program_path}: its dynamic loader {path} is missing (looked in "
                f"{', '.join([*looked, path])}: {err.strerror}); install "
                f"{library} or pass --sysroot DIR"
            ) from None
        self.files.add(path, image)
        return with_interpreter(program, image)

    def flush_files(self) -> None:
        for payload in self.files.take_frames():
            self.out.write(FrameType.FILE, payload)

    def flush_events(self) -> None:
        self.flush_files()
        batch = self.log.take_batch()
        if batch is not None:
            first, base, data = batch
            self.out.write(FrameType.EVENTS, encode_events_frame(first, base, data))

    # The most instructions one run of the record loop goes before the loop looks again.
    run_quantum = SIGNAL_CHECK
    # Whether a run the quantum bounds (no snapshot or limit due at its end) must end on
    # that very instruction: a look at signals and memory can come a block earlier.
    exact_quantum = False

    def between_runs(self, ran: RunOutcome) -> None:
        """After each run of the record loop that left the guest going (a subclass's hook)."""

    def run_ended(self) -> None:
        """The guest is gone: its stores into shared file mappings reach the files, as when a
        process ends (a subclass's hook)."""
        self.process.platform.shared_files.finish()

    def snapshot(self) -> None:
        self.flush_events()
        # The state as page digests: the recorder holds the guest's memory once (Unicorn's),
        # and reads the changed pages from there while it compresses them.
        state = self.process.summarize(self.log.count, self.previous)
        if len(state.digests) * PAGE > self.max_memory:
            # Past the memory the header declares: readers would refuse this snapshot.
            self.over_memory = True
            return
        machine = self.process.machine
        self._write_summary(state, lambda addr: machine.read(addr, PAGE))

    def write_snapshot(self, state: MachineState) -> None:
        """Write `state` (a captured one, kept whole; events up to its cursor flushed)."""
        self._write_summary(self.digests.summary(state), state.pages.__getitem__)

    def _write_summary(self, state: PageSummary, read: Callable[[int], bytes]) -> None:
        keyframe = self.previous is None or self.snapshot_count % KEYFRAME_EVERY == 0
        state_hash = summary_hash(state)
        enc = self.encoder.encode(state, None if keyframe else self.previous, state_hash, read)
        frame = encode_snapshot_frame(state.icount, keyframe, state_hash, enc.data)
        self.out.write(FrameType.SNAPSHOT, frame)
        self.previous = state
        self.snapshot_count += 1
        self.snapshot_bytes[0] += enc.raw_size
        self.snapshot_bytes[1] += len(enc.data)

    def run(self, progress: Progress | None = None) -> RecordResult:
        execfn = os.fsencode(self.execfn)
        self.out.write_json(
            FrameType.HEADER,
            {
                "ttdbg_version": __version__,
                "eventlog_version": EVENTLOG_VERSION,
                "arch": self.program.arch.name,
                "platform": "linux-user",
                "platform_version": PLATFORM_VERSION,
                "cpu_model": self.program.arch.cpu_model,
                "program": os.path.basename(self.program_path),
                "execfn": os.fsdecode(execfn),
                "argv": [os.fsdecode(a) for a in self.argv],
                "env": [os.fsdecode(e) for e in self.env],
                "interp": self.program.interp_path,
                "snapshot_every": self.snapshot_every,
                "memory_limit": self.max_memory,
                "state_hash_version": HASH_VERSION,
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        self.out.write(FrameType.PROGRAM, lz4.frame.compress(self.image))
        self.flush_files()
        self.process.platform.start(self.argv, self.env, execfn)
        timers = [signal.getitimer(which) for which in HOST_TIMERS]
        previous = self._catch_signals()
        try:
            return self._record(progress)
        finally:
            if self.host.signals_caught:  # the guest's timers end with it
                self.host.signals_caught = False
                for which, (value, interval) in zip(HOST_TIMERS, timers, strict=True):
                    signal.setitimer(which, value, interval)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _catch_signals(self) -> dict[int, Any]:
        """Ctrl-C and friends go to the guest, as they would to the native program: at the
        next instruction boundary the recorder sees, or as EINTR of a blocked host call."""
        plat = self.process.platform

        def forward(sig: int, _frame: object) -> None:
            plat.host_signal = sig
            # A host call waits on: the signal stays for the guest to take after the call.
            if self.inputs.in_host and plat.ends_host_wait(sig):
                raise HostInterrupted

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in FORWARDED_SIGNALS:
                previous[sig] = signal.signal(sig, forward)
            self.host.signals_caught = True
        return previous

    def _end_details(self) -> dict[str, Any]:
        """END frame fields only this kind of recording has."""
        return {
            "enosys": self.process.platform.enosys,
            "unoffered": self.process.platform.unoffered,
            "opened_files": sorted(self.host.opened),
            "inline_reads": self.host.inline,
            # Stores into a shared mapping that could not be written back, no msync told.
            **({"write_back_error": err} if (err := self.host.shared.unreported) else {}),
        }

    def _guest_memory_estimate(self) -> int:
        """Host memory the guest's pages take now: this process's growth since the start
        (the recorder keeps no copy of them, only digests)."""
        return resident_bytes() - self._start_rss

    def _record(self, progress: Progress | None) -> RecordResult:
        m = self.process.machine
        self._start_rss = resident_bytes()
        self.snapshot()
        reason = "exit"
        limit = self.max_insns
        ran: RunOutcome | None = None
        while m.halted is None:
            step = min(self.snapshot_every - m.icount % self.snapshot_every, self.run_quantum)
            if limit is not None:
                step = min(step, limit - m.icount)
            if step <= 0:
                reason = "limit"
                break
            ran = self.process.run(step, self.exact_quantum or step < self.run_quantum)
            if ran.failed:
                reason = str(ran.error)
                break
            if m.halted is None and (
                self.over_memory or self._guest_memory_estimate() > self.max_memory
            ):
                reason = (
                    f"memory limit: the program uses more than {self.max_memory:,} bytes "
                    "(ttdbg record --max-memory)"
                )
                break
            if progress is not None:
                progress(m.icount)
            if m.halted is None:
                self.between_runs(ran)
            # A signal caught just now is delivered at this very icount: the snapshot for it
            # is the one taken at the end.
            if m.halted is None and m.icount % self.snapshot_every == 0 and not ran.signal_due:
                self.snapshot()
        if not self.over_memory and (self.previous is None or self.previous.icount != m.icount):
            self.snapshot()
        self.run_ended()
        self.flush_events()
        exit_status, exit_signal = (
            (ran.exit_status, ran.exit_signal) if ran is not None and ran.why == Why.EXITED
            else (None, None)
        )  # fmt: skip
        self.out.write_json(
            FrameType.END,
            {
                "icount": m.icount,
                "reason": reason,
                "exit_status": exit_status,
                "exit_signal": exit_signal,
                **self._end_details(),
                "events": self.log.count,
                "events_by_kind": self.log.by_kind,
                "snapshots": self.snapshot_count,
                "snapshot_bytes_raw": self.snapshot_bytes[0],
                "snapshot_bytes_compressed": self.snapshot_bytes[1],
                "files": len(self.files.paths),
            },
        )
        self.out.close()
        return RecordResult(
            path=self.out.path,
            icount=m.icount,
            exit_status=exit_status,
            exit_signal=exit_signal,
            reason=reason,
            events=self.log.count,
            snapshots=self.snapshot_count,
            bytes_written=self.out.bytes_written,
        )
