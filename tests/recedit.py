"""Hostile recordings for tests: copy a real recording with some frames changed, CRCs valid."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lz4.frame

from ttdbg.backend.eventlog import Event, decode_events, encode_events
from ttdbg.backend.recfile import Frame, FrameType, RecordingWriter, read_frames
from ttdbg.backend.recording import EVENTS_HEAD, SNAPSHOT_HEAD, open_recording
from ttdbg.snapshots.codec import decode
from ttdbg.snapshots.state import PageDigests

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


def alter_first_event(src: Path, dest: Path, change: Callable[[Event], Event | None]) -> int:
    """Copy `src` to `dest` with the first logged event `change` alters (it returns None for
    the others) replaced by what it returns: the icount of that event (-1: none altered)."""
    changed: list[int] = []

    def alter(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type != FrameType.EVENTS or changed:
            return None
        first, base = EVENTS_HEAD.unpack_from(frame.payload)
        events = list(decode_events(lz4.frame.decompress(frame.payload[EVENTS_HEAD.size :]), base))
        for i, ev in enumerate(events):
            new = change(ev)
            if new is not None:
                events[i] = new
                changed.append(ev.icount)
                break
        body = lz4.frame.compress(encode_events(events, base))
        return [(FrameType.EVENTS, EVENTS_HEAD.pack(first, base) + body)]

    rewrite(src, dest, alter)
    return changed[0] if changed else -1


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


# A snapshot opened up: its JSON metadata and the page bytes that follow it.
SnapshotEdit = Callable[[int, dict[str, Any], bytes], tuple[dict[str, Any], bytes]]


def edit_snapshots(src: Path, dest: Path, edit: SnapshotEdit, *, rehash: bool = False) -> Path:
    """Copy `src` with every snapshot passed through `edit(index, meta, pages)`, re-encoded
    (lz4, CRC) so that only the snapshot's content is hostile. With `rehash` an edited
    keyframe also gets the hash of its new contents, as a careful forger would give it."""
    count = 0
    original = open_recording(str(src))
    baseline = original.snapshots.baseline
    digests = PageDigests(original.header.get("state_hash_version", 1))

    def change(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        nonlocal count
        if frame.type != FrameType.SNAPSHOT:
            return None
        icount, keyframe, digest = SNAPSHOT_HEAD.unpack_from(frame.payload)
        raw = lz4.frame.decompress(frame.payload[SNAPSHOT_HEAD.size :])
        (head_len,) = struct.unpack_from("<I", raw)
        meta = json.loads(raw[4 : 4 + head_len])
        meta, pages = edit(count, meta, raw[4 + head_len :])
        count += 1
        text = json.dumps(meta).encode()
        body = lz4.frame.compress(struct.pack("<I", len(text)) + text + pages)
        if rehash and keyframe:
            state, _meta = decode(body, None, baseline)
            digest = bytes.fromhex(digests.state_hash(state))
        return [(FrameType.SNAPSHOT, SNAPSHOT_HEAD.pack(icount, keyframe, digest) + body)]

    return rewrite(src, dest, change)


def cut_after_snapshot(src: Path, dest: Path, icount: int) -> Path:
    """Copy `src` as a recorder killed right after writing its snapshot at `icount` leaves it:
    no later events or snapshots, no END frame, no index."""
    done = False

    def change(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        nonlocal done
        if done:
            return []
        if frame.type == FrameType.SNAPSHOT:
            done = SNAPSHOT_HEAD.unpack_from(frame.payload)[0] == icount
        return None

    return rewrite(src, dest, change, complete=False)
