"""Snapshot encoding: keyframes hold every page, deltas the pages changed since the last one."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lz4.frame

from ttdbg.errors import RecordingError
from ttdbg.limits import ADDRESS_SPACE, DEFAULT_MEMORY_LIMIT, MAX_COUNT, METADATA_MARGIN
from ttdbg.lz4limit import Inflater
from ttdbg.pages import PAGE

from .state import MachineState, PageSummary, in_regions, page_digest

_LEN = struct.Struct("<I")
# The pages a keyframe is stored against, computed from the state's platform part alone.
Baseline = Callable[[dict[str, Any]], dict[int, bytes]]
FROM_BASELINE = -1  # a page's size in the page list: the page is its baseline page
_PAGES_PER_BATCH = 256  # pages handed to the compressor at once


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
    listed = [
        (addr, FROM_BASELINE if page and base.get(addr) == page else len(page))
        for addr, page in sorted(changed.items())
    ]
    return _write(state, previous is None, state_hash, listed, changed.__getitem__)


class SummaryEncoder:
    """Encodes states held as page digests (`PageSummary`), reading the changed pages'
    bytes from where the state lives (the emulator) only while they are compressed."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self._base: dict[int, bytes] | None = None  # the last baseline
        # The digests of its pages known to be those of the guest's page there (found equal
        # byte for byte once): a baseline page itself is never hashed.
        self._base_digests: dict[int, bytes] = {}

    def encode(
        self,
        state: PageSummary,
        previous: PageSummary | None,
        state_hash: str,
        read: Callable[[int], bytes],
    ) -> EncodedSnapshot:
        """`state` as a keyframe (previous is None) or a delta against `previous`, as `encode`
        writes it; `read(addr)` gives a changed page's contents."""
        base = self.baseline(state.platform)
        if base is not self._base:
            # A new baseline (a file mapped or unmapped) shares most of its page objects with
            # the last one: those keep the digests found for them.
            last = self._base or {}
            self._base = base
            self._base_digests = {
                addr: digest
                for addr, digest in self._base_digests.items()
                if base.get(addr) is last.get(addr)
            }
        base_digests = self._base_digests
        # Pages read here that differ from their baseline (so `_write` stores them) for it not
        # to read again; those equal to it are not kept (a keyframe would hold every one).
        fetched: dict[int, bytes] = {}

        def is_base(addr: int, digest: bytes) -> bool:
            """Whether the guest's page at `addr` (of `digest`) is its baseline page: a
            comparison of bytes the first time (hashing the baseline's pages cost as much
            as hashing the guest's: every page of every library, twice), of digests after."""
            known = base_digests.get(addr)
            if known is not None:
                return known == digest
            base_page = base.get(addr)
            if base_page is None:
                return False
            got = read(addr)
            if got != base_page:
                fetched[addr] = got
                return False
            base_digests[addr] = digest
            return True

        now = state.digests
        if previous is None:
            listed = [(addr, PAGE) for addr, digest in now.items() if not is_base(addr, digest)]
            old: dict[int, bytes] = base
        else:
            old = previous.digests
            listed = [
                (addr, FROM_BASELINE if is_base(addr, digest) else PAGE)
                for addr, digest in now.items()
                if old.get(addr) != digest
            ]
        listed += [(a, 0) for a in old if a not in now and in_regions(state.regions, a)]
        listed.sort()
        return _write(
            state, previous is None, state_hash, listed, lambda a: fetched.pop(a, None) or read(a)
        )


def _write(
    state: MachineState | PageSummary,
    keyframe: bool,
    state_hash: str,
    listed: list[tuple[int, int]],
    read: Callable[[int], bytes],
) -> EncodedSnapshot:
    """The snapshot of `state` with the sorted page list `listed` ((address, size), size as
    `_page_list` reads it); the pages' bytes are read and compressed a batch at a time, so
    the uncompressed snapshot (as big as the guest's memory) never exists in one piece."""
    meta = {
        "icount": state.icount,
        "keyframe": keyframe,
        "registers": {k: hex(v) for k, v in state.registers.items()},
        "regions": [list(r) for r in state.regions],
        "platform": state.platform,
        "cursor": state.cursor,
        "halted": state.halted,
        "hash": state_hash,
        "pages": [[addr, size] for addr, size in listed],
    }
    head = json.dumps(meta, separators=(",", ":")).encode()
    compressor = lz4.frame.LZ4FrameCompressor()
    out = [compressor.begin(), compressor.compress(_LEN.pack(len(head)) + head)]
    raw_size = _LEN.size + len(head)
    stored = [addr for addr, size in listed if size == PAGE]
    for at in range(0, len(stored), _PAGES_PER_BATCH):
        chunk = b"".join(read(addr) for addr in stored[at : at + _PAGES_PER_BATCH])
        raw_size += len(chunk)
        out.append(compressor.compress(chunk))
    out.append(compressor.flush())
    return EncodedSnapshot(state.icount, keyframe, state_hash, b"".join(out), raw_size)


def _regions(value: Any) -> tuple[tuple[int, int, int], ...]:
    """The memory map of a snapshot, checked: page-aligned, sorted, disjoint, in user space."""
    if not isinstance(value, list):
        raise RecordingError("corrupt snapshot (memory map is not a list)")
    regions: list[tuple[int, int, int]] = []
    for item in value:
        if not isinstance(item, list) or len(item) != 3 or not all(type(x) is int for x in item):
            raise RecordingError("corrupt snapshot (memory map entry is not [start, end, perms])")
        start, end, perms = item
        if start % PAGE or end % PAGE or not 0 <= start < end <= ADDRESS_SPACE or perms & ~7:
            raise RecordingError(
                f"corrupt snapshot (bad memory region [{start:#x}, {end:#x}) perms {perms})"
            )
        if regions and start < regions[-1][1]:
            raise RecordingError(f"corrupt snapshot (memory region {start:#x} overlaps another)")
        regions.append((start, end, perms))
    return tuple(regions)


def _page_list(value: Any, regions: tuple[tuple[int, int, int], ...]) -> list[tuple[int, int]]:
    """The (address, size) list of a snapshot's pages, checked before any byte is copied:
    whole pages (0: became zero, FROM_BASELINE: its baseline page), aligned, unique, in the
    memory map (the pages' bytes are checked against it as they are read)."""
    if not isinstance(value, list):
        raise RecordingError("corrupt snapshot (page list is not a list)")
    pages: list[tuple[int, int]] = []
    seen: set[int] = set()
    for item in value:
        if not isinstance(item, list) or len(item) != 2 or not all(type(x) is int for x in item):
            raise RecordingError("corrupt snapshot (page entry is not [address, size])")
        addr, size = item
        if size not in (0, PAGE, FROM_BASELINE):
            raise RecordingError(
                f"corrupt snapshot (page {addr:#x} holds {size} bytes, not {PAGE} or 0)"
            )
        if addr % PAGE or not in_regions(regions, addr):
            raise RecordingError(f"corrupt snapshot (page {addr:#x} is not a mapped page)")
        if addr in seen:
            raise RecordingError(f"corrupt snapshot (page {addr:#x} appears twice)")
        seen.add(addr)
        pages.append((addr, size))
    return pages


def decode(
    data: bytes,
    base: MachineState | None,
    baseline: Baseline,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> tuple[MachineState, dict[str, Any]]:
    """Decode a snapshot; a delta needs the state of the snapshot before it as `base`.

    Every region and page is checked before anything is copied; RecordingError says what
    is wrong with a damaged or forged snapshot.
    """
    old = None if base is None else base.pages
    meta, regions, pages = _decode_pages(data, old, baseline, memory_limit, bytes)
    return MachineState(**_fields(meta), regions=regions, pages=pages), meta


def decode_summary(
    data: bytes,
    base: PageSummary | None,
    baseline: Baseline,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> PageSummary:
    """A snapshot decoded as page digests, checked as `decode` checks it; a delta needs the
    summary of the snapshot before it. What this holds is the digests, never the pages
    (verifying a recording costs the guest's memory once, the replay's)."""
    old = None if base is None else base.digests
    meta, regions, digests = _decode_pages(data, old, baseline, memory_limit, page_digest)
    return PageSummary(**_fields(meta), regions=regions, digests=digests)


def _decode_pages(
    data: bytes,
    base: dict[int, bytes] | None,
    baseline: Baseline,
    memory_limit: int,
    value: Callable[[bytes], bytes],
) -> tuple[dict[str, Any], tuple[tuple[int, int, int], ...], dict[int, bytes]]:
    """(header, memory map, `value` of each page by address) of a snapshot, inflated a page at
    a time (the whole snapshot never exists at once); `base` holds the values of the
    snapshot before it, for a delta. Every region and page is checked before it is used."""
    try:
        reader = Inflater(data, memory_limit + METADATA_MARGIN, "snapshot")
        (head_len,) = _LEN.unpack(reader.read(_LEN.size))
        head = reader.read(head_len)
        if len(head) != head_len:
            raise RecordingError("corrupt snapshot (header runs past the end)")
        meta = json.loads(head)
        if not isinstance(meta, dict):
            raise RecordingError("corrupt snapshot (header is not an object)")
        regions = _regions(meta["regions"])
        listed = _page_list(meta["pages"], regions)
        base_pages = baseline(_object(meta["platform"], "platform"))
        if meta["keyframe"]:
            values = {addr: value(page) for addr, page in base_pages.items()}
        elif base is None:
            raise RecordingError("snapshot delta without its keyframe")
        else:
            values = dict(base)
        for addr, size in listed:
            if size == FROM_BASELINE:
                if addr not in base_pages:
                    raise RecordingError(f"corrupt snapshot (page {addr:#x} has no baseline)")
                values[addr] = value(base_pages[addr])
            elif size:
                page = reader.read(size)
                if len(page) != size:
                    raise RecordingError("corrupt snapshot (its page list runs past its pages)")
                values[addr] = value(page)
            else:
                values.pop(addr, None)
        if not reader.at_end():
            raise RecordingError("corrupt snapshot (it holds more pages than it lists)")
        values = {a: v for a, v in values.items() if in_regions(regions, a)}
        if len(values) * PAGE > memory_limit:
            raise RecordingError(
                f"corrupt snapshot (holds {len(values) * PAGE:#x} bytes of memory, more than "
                f"the {memory_limit:#x} the recording allows)"
            )
        return meta, regions, values
    except RecordingError:
        raise
    except (RuntimeError, ValueError, KeyError, TypeError, struct.error) as err:
        raise RecordingError(f"corrupt snapshot ({err})") from None


def _fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's scalar fields (all but the memory), checked."""
    try:
        registers = meta["registers"]
        if not isinstance(registers, dict):
            raise RecordingError("corrupt snapshot (registers are not an object)")
        return {
            "icount": _count(meta["icount"], "icount"),
            "registers": {str(k): _register(v) for k, v in registers.items()},
            "platform": _object(meta["platform"], "platform"),
            "cursor": _count(meta["cursor"], "event cursor"),
            "halted": bool(meta["halted"]),
        }
    except (ValueError, KeyError, TypeError) as err:
        raise RecordingError(f"corrupt snapshot ({err})") from None


def _count(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise RecordingError(f"corrupt snapshot ({what} {value!r})")
    return value


def _register(value: Any) -> int:
    if not isinstance(value, str):
        raise RecordingError(f"corrupt snapshot (register value {value!r})")
    number = int(value, 16)
    if not 0 <= number < 1 << 512:
        raise RecordingError(f"corrupt snapshot (register value {value!r})")
    return number


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordingError(f"corrupt snapshot ({what} is not an object)")
    return value
