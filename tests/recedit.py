"""Hostile recordings for tests: copy a real recording with some frames changed, CRCs valid."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttdbg.backend.recfile import Frame, FrameType, RecordingWriter, read_frames

# What a change returns for one frame: replacement frames (possibly none), or None to keep it.
FrameChange = Callable[[Frame], list[tuple[FrameType, bytes]] | None]


def rewrite(src: Path, dest: Path, change: FrameChange, *, complete: bool = True) -> Path:
    """Copy `src` to `dest` passing every frame but the index through `change`.

    With `complete` the copy gets a fresh index and trailer, else it ends like a recording
    whose recorder was killed.
    """
    frames, _truncated = read_frames(str(src))
    out = RecordingWriter(str(dest))
    for frame in frames:
        if frame.type == FrameType.INDEX:
            break
        replaced = change(frame)
        for ftype, payload in [(frame.type, frame.payload)] if replaced is None else replaced:
            out.write(ftype, payload)
    if complete:
        out.close()
    else:
        out.abandon()
    return dest


def edit_header(src: Path, dest: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Copy `src` with its JSON header changed in place by `edit`."""

    def change(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type != FrameType.HEADER:
            return None
        header = json.loads(frame.payload)
        edit(header)
        return [(FrameType.HEADER, json.dumps(header).encode())]

    return rewrite(src, dest, change)


def drop(kind: FrameType) -> FrameChange:
    """A change that removes every frame of `kind`."""
    return lambda frame: [] if frame.type == kind else None
