"""Structure-aware mutations of real recordings: each changes one thing an attacker controls
(a header field, a frame length, an lz4 payload, an ELF field, an event, a snapshot's metadata
or pages) and keeps everything else valid, CRCs included, so the reader gets past the checksum."""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from typing import Any

import lz4.frame

from ttdbg.backend.eventlog import Event, EventKind, decode_events, encode_events
from ttdbg.backend.recfile import (
    _TRAILER,
    _VERSION,
    EVENTS_HEAD,
    FORMAT_VERSION,
    MAGIC,
    SNAPSHOT_HEAD,
    TRAILER,
    FrameType,
    encode_frame,
)

Frames = list[tuple[int, bytes]]  # (frame type, payload): a recording before it is written
Mutator = Callable[[random.Random, Frames], Frames]

# Values that break assumptions: wrong types, signs, widths, control characters.
NASTY: list[Any] = [
    None, True, -1, 0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), 1.5, float("inf"),
    "", "abc", "2", "../../x", "\x1b[2J\x1b]0;t\x07", "\udcff", [], [1], {}, {"a": 1}, [[0, 1, 2]],
    "A" * 10000,
]  # fmt: skip


def serialize(frames: Frames, complete: bool = True) -> bytes:
    """The bytes of a recording made of `frames`, each with a valid CRC; with an index."""
    out = bytearray(MAGIC + _VERSION.pack(FORMAT_VERSION))
    offsets: dict[str, list[int]] = {}
    for ftype, payload in frames:
        offsets.setdefault(
            FrameType(ftype).name if ftype in FrameType._value2member_map_ else "X", []
        ).append(len(out))
        out += encode_frame(ftype, payload)
    if complete:
        index = json.dumps({"offsets": offsets}).encode()
        at = len(out)
        out += encode_frame(FrameType.INDEX, index)
        out += _TRAILER.pack(at, TRAILER)
    return bytes(out)


def _pick(rng: random.Random, frames: Frames, kind: FrameType) -> int | None:
    indices = [i for i, (t, _p) in enumerate(frames) if t == kind]
    return rng.choice(indices) if indices else None


def _nasty(rng: random.Random) -> Any:
    return rng.choice(NASTY)


def _mutate_json(rng: random.Random, value: dict[str, Any]) -> dict[str, Any]:
    value = dict(value)
    key = rng.choice(sorted(value) or ["x"])
    action = rng.randrange(4)
    if action == 0:
        value.pop(key, None)
    elif action == 1 and isinstance(value.get(key), list) and value[key]:
        items = list(value[key])
        items[rng.randrange(len(items))] = _nasty(rng)
        value[key] = items
    else:
        value[key] = _nasty(rng)
    return value


def _json_frame(kind: FrameType) -> Mutator:
    def mutate(rng: random.Random, frames: Frames) -> Frames:
        i = _pick(rng, frames, kind)
        if i is None:
            return frames
        value = _mutate_json(rng, json.loads(frames[i][1]))
        frames[i] = (kind, json.dumps(value).encode())
        return frames

    return mutate


def frame_bytes(rng: random.Random, frames: Frames) -> Frames:
    """Flip a few bytes anywhere in one frame's payload (its CRC recomputed)."""
    i = rng.randrange(len(frames))
    ftype, payload = frames[i]
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    frames[i] = (ftype, bytes(data))
    return frames


def frame_structure(rng: random.Random, frames: Frames) -> Frames:
    """Drop, duplicate, swap or retype frames, or cut one short."""
    i = rng.randrange(len(frames))
    action = rng.randrange(5)
    if action == 0:
        del frames[i]
    elif action == 1:
        frames.insert(i, frames[i])
    elif action == 2:
        j = rng.randrange(len(frames))
        frames[i], frames[j] = frames[j], frames[i]
    elif action == 3:
        frames[i] = (rng.choice([1, 2, 3, 4, 5, 7, 0, 99]), frames[i][1])
    else:
        frames[i] = (frames[i][0], frames[i][1][: rng.randrange(len(frames[i][1]) + 1)])
    return frames


def _lz4_payload(kind: FrameType, head: int) -> Mutator:
    def mutate(rng: random.Random, frames: Frames) -> Frames:
        i = _pick(rng, frames, kind)
        if i is None:
            return frames
        prefix, body = frames[i][1][:head], frames[i][1][head:]
        action = rng.randrange(4)
        if action == 0:  # damaged compressed bytes
            data = bytearray(body)
            at = rng.randrange(len(data))
            data[at : at + 8] = bytes(rng.randrange(256) for _ in range(8))
            body = bytes(data)
        elif action == 1:  # a bomb: many zeros compress to little
            packer = lz4.frame.LZ4FrameCompressor()
            zeros = bytes(8 << 20)
            body = packer.begin() + b"".join(
                packer.compress(zeros) for _ in range(rng.randint(1, 64))
            )
            body += packer.flush()
        elif action == 2:  # a frame claiming a huge content size
            body = lz4.frame.compress(lz4.frame.decompress(body), store_size=True)
            body = body[:6] + struct.pack("<Q", 1 << 62) + body[14:]
        else:  # valid lz4 of random bytes
            body = lz4.frame.compress(rng.randbytes(rng.randrange(1, 4096)))
        frames[i] = (kind, prefix + body)
        return frames

    return mutate


def elf_field(rng: random.Random, frames: Frames) -> Frames:
    """Change one ELF header or program header field of the embedded program."""
    i = _pick(rng, frames, FrameType.PROGRAM)
    if i is None:
        return frames
    elf = bytearray(lz4.frame.decompress(frames[i][1]))
    (phoff,) = struct.unpack_from("<Q", elf, 32)
    (phnum,) = struct.unpack_from("<H", elf, 56)
    value = rng.choice([0, 1, 0xFFF, 2**31, 2**48, 2**63, 2**64 - 1, 0x7FFF00000000])
    if rng.random() < 0.3 or not phnum:
        at, width = rng.choice([(24, 8), (32, 8), (40, 8), (54, 2), (56, 2), (16, 2), (18, 2)])
    else:
        # p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align of one program header
        at = phoff + 56 * rng.randrange(phnum) + rng.choice([8, 16, 24, 32, 40, 48])
        width = 8
    if at + width <= len(elf):
        elf[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    frames[i] = (FrameType.PROGRAM, lz4.frame.compress(bytes(elf)))
    return frames


def event(rng: random.Random, frames: Frames) -> Frames:
    """Change one event (kind, icount, arguments, result, payload) and re-encode its batch."""
    i = _pick(rng, frames, FrameType.EVENTS)
    if i is None:
        return frames
    first, base = EVENTS_HEAD.unpack_from(frames[i][1])
    events = list(decode_events(lz4.frame.decompress(frames[i][1][EVENTS_HEAD.size :]), base))
    if not events:
        return frames
    j = rng.randrange(len(events))
    ev = events[j]
    action = rng.randrange(6)
    if action == 0:
        ev = Event(
            EventKind(rng.choice(list(EventKind))), ev.icount, ev.args, ev.result, ev.payload
        )
    elif action == 1:
        ev = Event(
            ev.kind,
            max(base, ev.icount + rng.choice([-5, 1, 1000, 2**40])),
            ev.args,
            ev.result,
            ev.payload,
        )
    elif action == 2:
        ev = Event(
            ev.kind, ev.icount, ev.args[: rng.randrange(len(ev.args) + 1)], ev.result, ev.payload
        )
    elif action == 3:
        ev = Event(
            ev.kind, ev.icount, ev.args, rng.choice([0, -1, 65, 2**63 - 1, -(2**63)]), ev.payload
        )
    elif action == 4:
        ev = Event(ev.kind, ev.icount, ev.args, ev.result, rng.randbytes(rng.randrange(0, 200)))
    else:
        events.insert(j, ev)  # the same event twice
    events[j] = ev
    events.sort(key=lambda e: e.icount)
    data = EVENTS_HEAD.pack(first, base) + lz4.frame.compress(encode_events(events, base))
    frames[i] = (FrameType.EVENTS, data)
    return frames


def snapshot(rng: random.Random, frames: Frames) -> Frames:
    """Change one snapshot's metadata (regions, pages, registers, platform, icount) or pages."""
    i = _pick(rng, frames, FrameType.SNAPSHOT)
    if i is None:
        return frames
    head, body = frames[i][1][: SNAPSHOT_HEAD.size], frames[i][1][SNAPSHOT_HEAD.size :]
    raw = lz4.frame.decompress(body)
    (hlen,) = struct.unpack_from("<I", raw)
    meta, pages = json.loads(raw[4 : 4 + hlen]), bytearray(raw[4 + hlen :])
    action = rng.randrange(6)
    if action == 0 and meta["regions"]:
        r = rng.randrange(len(meta["regions"]))
        meta["regions"][r][rng.randrange(3)] = _nasty(rng)
    elif action == 1 and meta["pages"]:
        p = rng.randrange(len(meta["pages"]))
        meta["pages"][p][rng.randrange(2)] = rng.choice([1, 4095, 4097, -1, -2, 2**63, 0x1001, "x"])
    elif action == 2:
        name = rng.choice([*sorted(meta["registers"]), "nonexistent"])
        meta["registers"][name] = rng.choice(["0x4141", "zz", "-0x1", hex(2**600), 5])
    elif action == 3:
        meta["platform"] = _mutate_json(rng, meta["platform"])
    elif action == 4:
        meta = _mutate_json(rng, meta)
    elif pages:
        at = rng.randrange(len(pages))
        pages[at] ^= 0xFF
    text = json.dumps(meta).encode()
    frames[i] = (
        FrameType.SNAPSHOT,
        head + lz4.frame.compress(struct.pack("<I", len(text)) + text + pages),
    )
    return frames


def snapshot_head(rng: random.Random, frames: Frames) -> Frames:
    """Change a snapshot frame's fixed fields: icount, keyframe flag."""
    i = _pick(rng, frames, FrameType.SNAPSHOT)
    if i is None:
        return frames
    icount, keyframe, digest = SNAPSHOT_HEAD.unpack_from(frames[i][1])
    if rng.random() < 0.5:
        icount = rng.choice([0, 1, icount + 1, 2**62, 2**64 - 1])
    else:
        keyframe = rng.choice([0, 1, 2, 255])
    frames[i] = (
        FrameType.SNAPSHOT,
        SNAPSHOT_HEAD.pack(icount, keyframe, digest) + frames[i][1][SNAPSHOT_HEAD.size :],
    )
    return frames


MUTATORS: dict[str, Mutator] = {
    "header": _json_frame(FrameType.HEADER),
    "end": _json_frame(FrameType.END),
    "frame-bytes": frame_bytes,
    "frame-structure": frame_structure,
    "lz4-program": _lz4_payload(FrameType.PROGRAM, 0),
    "lz4-events": _lz4_payload(FrameType.EVENTS, EVENTS_HEAD.size),
    "lz4-snapshot": _lz4_payload(FrameType.SNAPSHOT, SNAPSHOT_HEAD.size),
    "elf": elf_field,
    "event": event,
    "snapshot": snapshot,
    "snapshot-head": snapshot_head,
}


def mutate(rng: random.Random, frames: Frames) -> tuple[str, bytes]:
    """One mutated recording: (the mutator's name, the file's bytes)."""
    name = rng.choice(sorted(MUTATORS))
    changed = MUTATORS[name](rng, list(frames))
    if not changed:
        return name, MAGIC + _VERSION.pack(FORMAT_VERSION)
    cut = rng.random() < 0.1  # sometimes also a recording whose recorder was killed
    data = serialize(changed, complete=not cut)
    if name == "frame-structure" and rng.random() < 0.3:
        # A frame length that lies: points past the end or into the next frame.
        at = len(MAGIC) + _VERSION.size + 1
        data = data[:at] + struct.pack("<I", rng.choice([0, 1, 2**32 - 1])) + data[at + 4 :]
    return name, data
