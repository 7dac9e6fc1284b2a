"""Reading a whole .ttrec recording: header, program, event log, snapshots, end, truncation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ttdbg.errors import RecordingError, TtdbgError
from ttdbg.limits import DEFAULT_MEMORY_LIMIT, MAX_EVENT_BATCH, METADATA_MARGIN
from ttdbg.snapshots.store import SnapshotEntry, SnapshotStore

from .baseline import PageBaseline
from .eventframes import EventLog, decode_frame, frames_of_log
from .eventlog import EVENTLOG_VERSION, Event, EventKind, EventLogReader
from .filestore import MAX_FILE_SIZE, FileStore
from .inputs import ReplayInputs
from .linux.platform import PLATFORM_VERSION, LinuxPlatform
from .loader import Program, initial_pages, parse_program, with_interpreter
from .machine import Machine
from .machines import FIRMWARE_PLATFORM_VERSION, MachineSpec
from .recfile import (
    EVENTS_HEAD,
    SNAPSHOT_HEAD,
    Frame,
    FrameType,
    decode_program_frame,
    decode_snapshot_frame,
    load_end,
    load_header,
    read_frames,
)

if TYPE_CHECKING:
    from .machines.platform import FirmwarePlatform

__all__ = ["EVENTS_HEAD", "SNAPSHOT_HEAD", "Recording", "open_recording"]


@dataclass
class Recording:
    """A recording opened for replay; everything in it, with the snapshots still encoded."""

    path: str
    header: dict[str, Any]
    program_image: bytes
    program: Program
    files: FileStore
    events: Sequence[Event]  # an EventLog: decoded a batch at a time when read
    snapshots: SnapshotStore
    end: dict[str, Any] | None
    truncated: bool
    file_size: int
    compressed_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def machine_spec(self) -> MachineSpec | None:
        """The firmware machine the recording runs on; None for a Linux program."""
        return firmware_spec(self.header, self.program, self.path)

    @property
    def argv(self) -> list[bytes]:
        return [os.fsencode(a) for a in self.header["argv"]]

    @property
    def envp(self) -> list[bytes]:
        return [os.fsencode(e) for e in self.header["env"]]

    @property
    def execfn(self) -> bytes:
        return os.fsencode(self.header["execfn"])

    @property
    def last_known_icount(self) -> int:
        """The recording's end, or for a truncated one the furthest point it proves."""
        if self.end is not None:
            return int(self.end["icount"])
        candidates = [0]
        if self.events:
            candidates.append(self.events[-1].icount)
        if len(self.snapshots):
            candidates.append(self.snapshots.entries[-1].icount)
        return max(candidates)

    def guest_fault(self) -> tuple[int, int, str] | None:
        """(pc, signal, detail) of the guest fault the recording ended with (firmware), or
        None (checked when the end frame was read)."""
        fault = (self.end or {}).get("fault")
        if fault is None:
            return None
        return int(fault["pc"]), int(fault["signal"]), str(fault["detail"])

    def exit_event(self) -> Event | None:
        for ev in reversed(self.events):
            if ev.kind == EventKind.EXIT:
                return ev
        return None

    def exit_outcome(self) -> tuple[int | None, int | None]:
        """(exit status, killing signal) of the recorded end: one of them is set, or neither
        when the recording stopped before the program ended."""
        ev = self.exit_event()
        if ev is None:
            return None, None
        status, signal = ev.args
        return (None, signal) if signal else (status, None)


def firmware_spec(header: dict[str, Any], program: Program, path: str) -> MachineSpec | None:
    """The machine a firmware recording's header names (checked), or None for Linux."""
    if header.get("platform") != "firmware":
        return None
    from ttdbg.errors import UsageError

    from .machines import machine_spec

    try:
        return machine_spec(
            header.get("machine", ""),
            program.arch.name,
            header.get("cpu"),
            header.get("icount_shift"),
        )
    except UsageError as err:
        raise RecordingError(f"{path}: {err}") from None


class PlatformNormalizer:
    """A snapshot's platform state as restoring it yields it: loaded into a scratch platform
    and written out again, so states from older ttdbg versions compare equal to replayed
    ones and a malformed platform state is refused when decoded, not when restored."""

    def __init__(self, program: Program, files: FileStore, spec: MachineSpec | None = None) -> None:
        self._program, self._files, self._spec = program, files, spec
        self._scratch: LinuxPlatform | FirmwarePlatform | None = None

    def __call__(self, platform: dict[str, Any]) -> dict[str, Any]:
        if self._scratch is None:
            inputs = ReplayInputs(EventLogReader([]))
            if self._spec is not None:
                from .machines.platform import FirmwarePlatform

                self._scratch = FirmwarePlatform(self._spec, self._program, inputs)
            else:
                machine = Machine(self._program.arch)
                self._scratch = LinuxPlatform(machine, self._program, inputs, files=self._files)
        try:
            self._scratch.load_state(platform)
            return self._scratch.to_state()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise RecordingError(f"corrupt platform state ({type(err).__name__}: {err})") from None


def shell_status(exit_status: int | None, exit_signal: int | None) -> int:
    """The status a shell reports for a program that ended so: 128+signal when a signal ended
    it; 0 when it had not ended."""
    if exit_signal:
        return 128 + exit_signal
    return exit_status or 0


def open_recording(path: str) -> Recording:
    """Open and check a recording; RecordingError names the file and the problem."""
    # Snapshots stay in the file until decoded: memory follows the largest frame, not the file.
    frames, truncated = read_frames(path, lazy=frozenset({FrameType.SNAPSHOT}))
    by_type: dict[FrameType, list[Frame]] = {}
    for frame in frames:
        by_type.setdefault(frame.type, []).append(frame)
    if FrameType.HEADER not in by_type:
        raise RecordingError(f"{path}: truncated before its header")
    header = load_header(by_type[FrameType.HEADER][0], path)
    if header["eventlog_version"] > EVENTLOG_VERSION:
        raise RecordingError(f"{path}: event log version is newer than this ttdbg reads")
    recorded = header["platform_version"]
    firmware = header.get("platform") == "firmware"
    if firmware and recorded != FIRMWARE_PLATFORM_VERSION:
        raise RecordingError(
            f"{path}: recorded with firmware machine version {recorded}, this ttdbg replays "
            f"version {FIRMWARE_PLATFORM_VERSION}; record it again"
        )
    if not firmware and recorded != PLATFORM_VERSION:
        raise RecordingError(
            f"{path}: recorded with Linux emulation version {recorded}, this ttdbg replays "
            f"version {PLATFORM_VERSION}; record it again"
        )
    memory_limit = header.get("memory_limit", DEFAULT_MEMORY_LIMIT)
    if FrameType.PROGRAM not in by_type:
        raise RecordingError(f"{path}: truncated before its program")
    image = decode_program_frame(by_type[FrameType.PROGRAM][0], path, MAX_FILE_SIZE)
    files = FileStore()
    for frame in by_type.get(FrameType.FILE, []):
        files.load_frame(frame.payload, f"{path} offset {frame.offset}")
    try:
        program = parse_program(image, header["program"])
        if program.interp_path is not None:
            loader = files.by_path(program.interp_path)
            if loader is None:
                raise RecordingError(f"lacks the dynamic loader {program.interp_path}")
            program = with_interpreter(program, loader)
    except TtdbgError as err:
        raise RecordingError(f"{path}: {err}") from None
    compressed = {
        "events": 0,
        "snapshots": 0,
        "program": len(by_type[FrameType.PROGRAM][0].payload),
        "files": sum(len(f.payload) for f in by_type.get(FrameType.FILE, [])),
    }
    # Only the last batch is decoded here (the log's last icount): the others are checked
    # against the frames around them when read (eventframes), so opening costs no decoding
    # and memory follows a few batches. Every input must fit in guest memory, and the
    # recorder writes batches far smaller than MAX_EVENT_BATCH: a batch inflating past
    # either is not a recording.
    limit = min(memory_limit, MAX_EVENT_BATCH) + METADATA_MARGIN
    read_budget = memory_limit + METADATA_MARGIN
    event_file_frames = by_type.get(FrameType.EVENTS, [])
    last_batch = None
    if event_file_frames:
        _first, _base, last_batch = decode_frame(
            event_file_frames[-1], files, path, limit, read_budget
        )
    event_frames, last_icount = frames_of_log(event_file_frames, path, last_batch)
    compressed["events"] = sum(len(frame.payload) for frame in event_file_frames)
    events = EventLog(event_frames, files, path, limit, read_budget)
    entries: list[SnapshotEntry] = []
    for frame in by_type.get(FrameType.SNAPSHOT, []):
        snap = decode_snapshot_frame(frame, path)
        if entries and snap.icount <= entries[-1].icount:
            raise RecordingError(
                f"{path}: snapshot icounts not increasing at offset {frame.offset}"
            )
        entries.append(
            SnapshotEntry(snap.icount, snap.keyframe, snap.state_hash, snap.size, snap.load)
        )
        compressed["snapshots"] += frame.size
    if entries and not entries[0].keyframe:
        raise RecordingError(f"{path}: first snapshot is not a keyframe")
    end = load_end(by_type[FrameType.END][0], path) if FrameType.END in by_type else None
    if end is not None and end["icount"] < max([last_icount] + [e.icount for e in entries[-1:]]):
        raise RecordingError(f"{path}: the recording ends before its last event or snapshot")
    return Recording(
        path=path,
        header=header,
        program_image=image,
        program=program,
        files=files,
        events=events,
        snapshots=SnapshotStore(
            entries,
            PageBaseline(initial_pages(program), files),
            memory_limit=memory_limit,
            hash_version=header.get("state_hash_version", 1),
            source=path,
            normalize_platform=PlatformNormalizer(
                program, files, firmware_spec(header, program, path)
            ),
        ),
        end=end,
        truncated=truncated or end is None,
        file_size=sum(f.size + 9 for f in frames) + 10,
        compressed_bytes=compressed,
    )
