"""Snapshot encoding: keyframes hold every page, deltas the pages changed since the last one."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lz4.frame

from ttdbg.errors import RecordingError

from .state import MachineState, in_regions

_LEN = struct.Struct("<I")
# The pages a keyframe is stored against, computed from the state's platform part alone.
Baseline = Callable[[dict[str, Any]], dict[int, bytes]]
FROM_BASELINE = -1  # a page's size in the page list: the page is its baseline page


@dataclass(frozen=True)
class EncodedSnapshot:
    icount: int
    keyframe: bool
    state_hash: str
    data: bytes  # lz4-compressed
    raw_size: int


def encode(
    state: MachineState,
    previous: MachineState | None,
    state_hash: str,
    baseline: Baseline,
) -> EncodedSnapshot:
    """Encode `state` as a keyframe (previous is None) or as a delta against `previous`.

    A keyframe is itself a delta against its `baseline`: the program's pages as loaded and
    the file-backed mappings' pages, which every reader rebuilds from the recording.
    """
    base = baseline(state.platform)
    old = base if previous is None else previous.pages
    changed = {a: p for a, p in state.pages.items() if old.get(a) != p}
    # Pages that became zero must be said explicitly; absent means unchanged.
    for addr in old:
        if addr not in state.pages and in_regions(state.regions, addr):
            changed[addr] = b""
    # A changed page equal to its baseline (a library mapped since the last snapshot) is
    # only named: its bytes are in the recording's FILE frames already.
    from_base = {a for a, p in changed.items() if p and base.get(a) == p}
    meta = {
        "icount": state.icount,
        "keyframe": previous is None,
        "registers": {k: hex(v) for k, v in state.registers.items()},
        "regions": [list(r) for r in state.regions],
        "platform": state.platform,
        "cursor": state.cursor,
        "halted": state.halted,
        "hash": state_hash,
        "pages": [
            [addr, FROM_BASELINE if addr in from_base else len(changed[addr])]
            for addr in sorted(changed)
        ],
    }
    head = json.dumps(meta, separators=(",", ":")).encode()
    raw = (
        _LEN.pack(len(head))
        + head
        + b"".join(changed[a] for a in sorted(changed) if a not in from_base)
    )
    return EncodedSnapshot(
        state.icount, previous is None, state_hash, lz4.frame.compress(raw), len(raw)
    )


def decode(
    data: bytes, base: MachineState | None, baseline: Baseline
) -> tuple[MachineState, dict[str, Any]]:
    """Decode a snapshot; a delta needs the state of the snapshot before it as `base`."""
    try:
        raw = lz4.frame.decompress(data)
        (head_len,) = _LEN.unpack_from(raw, 0)
        meta = json.loads(raw[4 : 4 + head_len])
        pos = 4 + head_len
        base_pages = baseline(meta["platform"])
        if meta["keyframe"]:
            pages = dict(base_pages)
        elif base is None:
            raise RecordingError("snapshot delta without its keyframe")
        else:
            pages = dict(base.pages)
        for addr, size in meta["pages"]:
            if size == FROM_BASELINE:
                pages[addr] = base_pages[addr]
            elif size:
                pages[addr] = raw[pos : pos + size]
                pos += size
            else:
                pages.pop(addr, None)
        regions = tuple((int(s), int(e), int(p)) for s, e, p in meta["regions"])
        pages = {a: p for a, p in pages.items() if in_regions(regions, a)}
        state = MachineState(
            icount=meta["icount"],
            registers={k: int(v, 16) for k, v in meta["registers"].items()},
            regions=regions,
            pages=pages,
            platform=meta["platform"],
            cursor=meta["cursor"],
            halted=meta["halted"],
        )
    except RecordingError:
        raise
    except (RuntimeError, ValueError, KeyError, TypeError, struct.error) as err:
        raise RecordingError(f"corrupt snapshot ({err})") from None
    return state, meta
