"""Record firmware on a machine: the ELF loaded as QEMU's -kernel, serial input from a host
descriptor (stdin) logged at the icount it enters the UART, output to the console."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import lz4.frame

from ttdbg import __version__
from ttdbg.errors import GuestFault
from ttdbg.limits import DEFAULT_MEMORY_LIMIT
from ttdbg.pages import PAGE
from ttdbg.snapshots.codec import SummaryEncoder
from ttdbg.snapshots.state import HASH_VERSION, MachineState, PageDigests

from ..baseline import PageBaseline
from ..eventlog import EVENTLOG_VERSION, EventLogWriter
from ..loader import initial_pages
from ..process import GuestProcess
from ..recfile import MAX_FAULT_DETAIL, FrameType, RecordingWriter
from ..recorder import DEFAULT_SNAPSHOT_EVERY, Progress, Recorder, RecordResult, _FlushingInputs
from ..runoutcome import RunOutcome
from . import FIRMWARE_PLATFORM_VERSION, MachineSpec
from .platform import Console, FirmwarePlatform, stdout_console
from .serialinput import SerialInput

if TYPE_CHECKING:
    from ..linux.host import HostIO


class _SignalFlag:
    """Whether the recorder's signal handlers are installed (the shared loop's flag)."""

    signals_caught = False


class FirmwareRecorder(Recorder):
    """Runs firmware from reset until it powers off, fails, or is interrupted.

    Each snapshot comes with states the record loop kept before it, about 4K, 16K and 64K
    instructions back (the loop stops every `run_quantum` instructions; captures cost only
    the pages written since the last one): reverse debugging starts at a snapshot (the end
    of the recording above all), and firmware taking an interrupt every few dozen
    instructions replays slowly, so the first passes back should start close by, farther
    ones a little farther, rather than a whole snapshot interval away.
    """

    run_quantum = 1 << 12
    # Its kept states stay at whole multiples of the quantum (its runs are short: the
    # step hook over a last block costs little next to the capture after each run).
    exact_quantum = True
    LEADS = (0, 1 << 14, 1 << 16)  # a kept state at least this far before each snapshot

    def __init__(
        self,
        program_path: str,
        spec: MachineSpec,
        out_path: str,
        serial_fd: int | None,
        console: Console = stdout_console,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        max_insns: int | None = None,
        max_memory: int = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self._open_program(program_path, max_memory)
        self.spec = spec
        self.argv, self.env = [], []
        self.snapshot_every = max(1, snapshot_every)
        self.max_insns = max_insns
        self.log = EventLogWriter()
        self.out = RecordingWriter(out_path)
        self.inputs = _FlushingInputs(self.log, self.flush_events)
        self.serial_in = SerialInput(serial_fd)
        # The Linux recorder's signal bookkeeping lives on its host; firmware has no host
        # calls, only this flag the shared record loop sets and clears.
        self.host = cast("HostIO", _SignalFlag())
        self.process = GuestProcess(
            self.program, self.inputs, console=console, spec=spec, serial_in=self.serial_in
        )
        self.digests = PageDigests()
        self.baseline = PageBaseline(initial_pages(self.program), self.files)
        self.encoder = SummaryEncoder(self.baseline)
        self.previous = None
        self.snapshot_count = 0
        self.snapshot_bytes = [0, 0]
        self._leads: list[MachineState] = []  # the last states kept between runs

    @property
    def platform(self) -> FirmwarePlatform:
        plat = self.process.platform
        assert isinstance(plat, FirmwarePlatform)
        return plat

    def _end_details(self) -> dict[str, Any]:
        error = self.platform.error
        if not isinstance(error, GuestFault):
            return {}
        detail = error.detail[:MAX_FAULT_DETAIL]
        return {"fault": {"pc": error.pc, "signal": error.signal, "detail": detail}}

    def run_ended(self) -> None:
        """Firmware maps no files."""

    def between_runs(self, ran: RunOutcome) -> None:
        if ran.signal_due or self.over_memory:
            return  # (a signal delivered here: the snapshot for it is taken at the end)
        # (Pages shared with the last lead: the write tracker's base is that state.)
        state = self.process.capture(self.log.count, self._leads[-1] if self._leads else None)
        # Keep what a next snapshot may pick: the newest state at least LEADS[-1] back,
        # and all after it.
        floor = state.icount - self.LEADS[-1]
        old = [i for i, lead in enumerate(self._leads) if lead.icount <= floor]
        self._leads = [*self._leads[old[-1] if old else 0 :], state]

    def snapshot(self) -> None:
        self.flush_events()  # (the leads' events too: their cursors are behind)
        leads, self._leads = self._leads, []
        now = self.process.machine.icount
        after = self.previous.icount if self.previous is not None else -1
        picked: dict[int, MachineState] = {}
        for distance in self.LEADS:
            before = [s for s in leads if after < s.icount < now and s.icount <= now - distance]
            if before:
                picked[before[-1].icount] = before[-1]
        for icount in sorted(picked):
            if len(picked[icount].pages) * PAGE <= self.max_memory:
                self.write_snapshot(picked[icount])
        super().snapshot()

    def _catch_signals(self) -> dict[int, Any]:
        """Ctrl-C and friends end the recording at the next instruction boundary (the
        platform stops with "interrupted"), as Ctrl-A x ends QEMU."""
        plat = self.platform

        def stop(sig: int, _frame: object) -> None:
            plat.host_signal = sig

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, stop)
        return previous

    def _guest_memory_estimate(self) -> int:
        return 0  # the board's RAM is fixed; snapshots are checked against the limit

    def run(self, progress: Progress | None = None) -> RecordResult:
        self.out.write_json(
            FrameType.HEADER,
            {
                "ttdbg_version": __version__,
                "eventlog_version": EVENTLOG_VERSION,
                "arch": self.program.arch.name,
                "platform": "firmware",
                "platform_version": FIRMWARE_PLATFORM_VERSION,
                **self.spec.to_header(),
                "program": os.path.basename(self.program_path),
                "execfn": os.path.basename(self.program_path),
                "argv": [],
                "env": [],
                "interp": None,
                "snapshot_every": self.snapshot_every,
                "memory_limit": self.max_memory,
                "state_hash_version": HASH_VERSION,
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        self.out.write(FrameType.PROGRAM, lz4.frame.compress(self.image))
        self.platform.start([], [], b"")
        previous = self._catch_signals()
        try:
            return self._record(progress)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
