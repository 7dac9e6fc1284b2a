"""A session: a timeline plus what the user built on it, saved next to the recording.

`FILE.ttsession` (JSON) keeps bookmarks, navigation history, named states, breakpoints (on
addresses, and on libraries' code by file digest and offset), watchpoints, replay breaks, the
position and the layout. Positions are icounts, which mean
the same state on every machine, so a session travels with its recording.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backend.codebreaks import CodeBreakpoint
from .backend.recording import Recording, open_recording
from .backend.timeline import Timeline
from .errors import TtdbgError
from .sessionfile import (
    SESSION_VERSION,
    SessionData,
    SessionFileError,
    parse_session,
    read_session_file,
    write_session_file,
)

HISTORY_LIMIT = 500


def session_path(recording_path: str) -> str:
    return recording_path + ".ttsession"


@dataclass
class Session:
    """The timeline of one recording and the user's marks on it."""

    timeline: Timeline
    path: str
    bookmarks: dict[str, int] = field(default_factory=dict)
    back: list[int] = field(default_factory=list)
    forward: list[int] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)
    # Breakpoints and watchpoints read from the file but not applied (gdb owns its own).
    kept: dict[str, Any] = field(default_factory=dict)
    # What of the saved session was left out, one line each, for the front-end to show.
    problems: list[str] = field(default_factory=list)
    # The saved position, when the front-end moves there itself (see open_session).
    saved_position: int | None = None

    @property
    def recording(self) -> Recording:
        return self.timeline.recording

    # -- navigation history ---------------------------------------------------------------------

    def note_move(self, before: int, after: int) -> None:
        """Remember a jump the user made, so `u` can go back to where it started."""
        if before != after:
            self.back.append(before)
            del self.back[:-HISTORY_LIMIT]
            self.forward.clear()

    def go_back(self, current: int) -> int | None:
        if not self.back:
            return None
        self.forward.append(current)
        return self.back.pop()

    def go_forward(self, current: int) -> int | None:
        if not self.forward:
            return None
        self.back.append(current)
        return self.forward.pop()

    # -- persistence ----------------------------------------------------------------------------

    def to_json(self, position: int | None = None) -> dict[str, Any]:
        """The session as saved; `position` (default: the timeline's) lets a front-end save
        from another thread than the engine's, with the position it shows."""
        tl = self.timeline
        return {
            "version": SESSION_VERSION,
            "recording": os.path.basename(self.recording.path),
            "position": tl.position if position is None else position,
            "bookmarks": self.bookmarks,
            "history": {"back": self.back, "forward": self.forward},
            "named": tl.named,
            "breakpoints": self.kept.get("breakpoints", sorted(tl.breakpoints)),
            "watchpoints": self.kept.get(
                "watchpoints",
                [
                    {"kind": w.kind.value, "address": w.address, "length": w.length}
                    for w in sorted(tl.watchpoints, key=lambda w: (w.address, w.kind.value))
                ],
            ),
            "code_breakpoints": self.kept.get(
                "code_breakpoints",
                [{"file": b.digest.hex(), "offset": b.offset} for b in sorted(tl.code_breakpoints)],
            ),
            "replay_breaks": sorted(tl.replay_breaks),
            "layout": self.layout,
        }

    def save(self, position: int | None = None) -> None:
        if self.path == os.devnull:
            return
        write_session_file(self.path, self.to_json(position))  # never a half-written session

    def apply(self, data: SessionData, with_breakpoints: bool = True, seek: bool = True) -> None:
        """Restore a validated session onto the timeline (breakpoints too, unless gdb owns
        them); what the timeline refuses is noted in `problems` and left out."""
        tl = self.timeline
        self.bookmarks = dict(data.bookmarks)
        self.back, self.forward = list(data.back), list(data.forward)
        self.layout = dict(data.layout)
        tl.named = {**tl.named, **data.named}
        for icount in data.replay_breaks:
            self._try(f"replay break {icount}", tl.add_replay_break, icount)
        watches = [{"kind": w.kind, "address": w.address, "length": w.length}
                   for w in data.watchpoints]  # fmt: skip
        code = [{"file": c.file, "offset": c.offset} for c in data.code_breakpoints]
        if not with_breakpoints:
            self.kept = {
                "breakpoints": list(data.breakpoints),
                "watchpoints": watches,
                "code_breakpoints": code,
            }
        else:
            for addr in data.breakpoints:
                self._try(f"breakpoint {addr:#x}", tl.add_breakpoint, addr)
            for c in data.code_breakpoints:
                bp = CodeBreakpoint(bytes.fromhex(c.file), c.offset)
                self._try(f"breakpoint in file {c.file[:12]}", tl.add_code_breakpoint, bp)
            for w in data.watchpoints:
                self._try(f"watchpoint {w.address:#x}", tl.add_watchpoint, w.kind, w.address,
                          w.length)  # fmt: skip
        self.saved_position = data.position
        if data.position is not None and seek:
            self._try(f"position {data.position}", tl.seek, data.position)

    def problem_line(self) -> str | None:
        """Everything left out of the saved session, in one line (None: nothing was)."""
        if not self.problems:
            return None
        return f"{session_path(self.recording.path)}: " + "; ".join(self.problems)

    def _try(self, what: str, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except TtdbgError as err:
            self.problems.append(f"{what} ignored: {err}")


def open_session(
    recording_path: str, with_breakpoints: bool = True, restore: bool = True, seek: bool = True
) -> Session:
    """Open a recording and restore its saved session, if it has one.

    A session that cannot be read or has bad fields never stops the recording from opening:
    what was left out is listed in `Session.problems` for the front-end to show. With
    `seek` false the timeline stays at icount 0 and the saved position is only noted in
    `saved_position` (gdb must connect at the start and be moved there with `monitor seek`:
    connected in the middle of the program, its reverse stepping goes wrong).
    """
    timeline = Timeline(open_recording(recording_path))
    if not restore:
        return Session(timeline, os.devnull)
    session = Session(timeline, session_path(recording_path))
    try:
        text = read_session_file(session.path)
    except SessionFileError as err:
        session.problems.append(f"not used: {err}")
        session.path = os.devnull  # never overwrite what we could not read
        return session
    if text is None:
        return session
    data, notes = parse_session(text)
    session.problems += notes
    if data is None:
        session.path = os.devnull
        return session
    session.apply(data, with_breakpoints, seek)
    return session
