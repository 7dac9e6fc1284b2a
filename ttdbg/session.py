"""A session: a timeline plus what the user built on it, saved next to the recording.

`FILE.ttsession` (JSON) keeps bookmarks, navigation history, named states, breakpoints,
watchpoints, replay breaks, the position and the layout. Positions are icounts, which mean
the same state on every machine, so a session travels with its recording.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .backend.recording import Recording, open_recording
from .backend.timeline import Timeline
from .errors import RecordingError

SESSION_VERSION = 1
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

    def to_json(self) -> dict[str, Any]:
        tl = self.timeline
        return {
            "version": SESSION_VERSION,
            "recording": os.path.basename(self.recording.path),
            "position": tl.position,
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
            "replay_breaks": sorted(tl.replay_breaks),
            "layout": self.layout,
        }

    def save(self) -> None:
        if self.path == os.devnull:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_json(), f, indent=1)
        os.replace(tmp, self.path)  # never leave a half-written session behind

    def apply(self, data: dict[str, Any], with_breakpoints: bool = True) -> None:
        """Restore a saved session onto the timeline (breakpoints too, unless gdb owns them)."""
        tl = self.timeline
        self.bookmarks = {str(k): int(v) for k, v in data.get("bookmarks", {}).items()}
        history = data.get("history", {})
        self.back = [int(x) for x in history.get("back", [])]
        self.forward = [int(x) for x in history.get("forward", [])]
        self.layout = dict(data.get("layout", {}))
        for name, icount in data.get("named", {}).items():
            tl.named[str(name)] = int(icount)
        for icount in data.get("replay_breaks", []):
            tl.add_replay_break(int(icount))
        if not with_breakpoints:
            self.kept = {
                "breakpoints": list(data.get("breakpoints", [])),
                "watchpoints": list(data.get("watchpoints", [])),
            }
        else:
            for addr in data.get("breakpoints", []):
                tl.add_breakpoint(int(addr))
            for w in data.get("watchpoints", []):
                tl.add_watchpoint(w["kind"], int(w["address"]), int(w["length"]))
        tl.seek(int(data.get("position", 0)))


def load_session_data(path: str) -> dict[str, Any] | None:
    """A saved session's data, None if there is none; RecordingError if it is unreadable."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise RecordingError(f"{path}: cannot read the saved session ({err})") from None
    if not isinstance(data, dict) or data.get("version", 0) > SESSION_VERSION:
        raise RecordingError(f"{path}: not a session this ttdbg can read")
    return data


def open_session(recording_path: str, with_breakpoints: bool = True) -> Session:
    """Open a recording and restore its saved session, if it has one."""
    timeline = Timeline(open_recording(recording_path))
    session = Session(timeline, session_path(recording_path))
    data = load_session_data(session.path)
    if data is not None:
        try:
            session.apply(data, with_breakpoints)
        except (KeyError, TypeError, ValueError) as err:
            raise RecordingError(f"{session.path}: damaged session ({err})") from None
    return session
