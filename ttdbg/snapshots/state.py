"""Whole-machine state at one icount: registers, memory map, pages, platform; and its hash."""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MachineState:
    """Everything needed to rebuild the guest at `icount`. Absent pages are zero."""

    icount: int
    registers: dict[str, int]
    regions: tuple[tuple[int, int, int], ...]
    pages: dict[int, bytes] = field(repr=False)
    platform: dict[str, Any]
    cursor: int  # events consumed so far
    halted: bool = False
    # Per-region page pointer arrays for fast restores, built on first use.
    restore_plan: dict[tuple[int, int], Any] = field(
        default_factory=dict, compare=False, repr=False
    )
    # The registers packed for a register file (by its layout), built on first restore: a
    # state restored again (each reverse step) skips packing them one by one.
    register_slots: dict[tuple[str, ...], bytes] = field(
        default_factory=dict, compare=False, repr=False
    )


def in_regions(regions: Sequence[tuple[int, ...]], addr: int) -> bool:
    """Whether `addr` lies in one of the sorted, non-overlapping `regions`: (start, end, ...)
    tuples, a memory map's (start, end, perms) or plain [start, end) ranges."""
    # Sorts after every tuple starting at addr, whatever follows (ends are below 2**65).
    i = bisect.bisect_right(regions, (addr, 1 << 65)) - 1
    return i >= 0 and regions[i][0] <= addr < regions[i][1]


def add_range(ranges: list[tuple[int, int]], start: int, end: int) -> None:
    """Add [start, end) to the sorted, disjoint, non-touching `ranges`, merging it with those
    it overlaps or touches (so they stay a valid `in_regions` map)."""
    i = bisect.bisect_left(ranges, (start,))
    if i and ranges[i - 1][1] >= start:
        i -= 1
        start = ranges[i][0]
    j = i
    while j < len(ranges) and ranges[j][0] <= end:
        end = max(end, ranges[j][1])
        j += 1
    ranges[i:j] = [(start, end)]


# Version 1 hashed registers and memory; version 2 adds the platform state, the event cursor
# and whether the guest has halted, so a snapshot cannot be edited anywhere without notice.
HASH_VERSION = 2


def canonical_json(value: Any) -> bytes:
    """`value` as JSON the way it reads back from a snapshot (string keys, sorted)."""
    return json.dumps(json.loads(json.dumps(value)), sort_keys=True, separators=(",", ":")).encode()


def first_difference(expected: MachineState, actual: MachineState) -> str | None:
    """What first differs between two states (a register, a page, the platform...), or None."""
    if expected.icount != actual.icount:
        return f"icount {expected.icount} != {actual.icount}"
    for name in sorted(set(expected.registers) | set(actual.registers)):
        want, got = expected.registers.get(name), actual.registers.get(name)
        if want != got:
            show = lambda v: "absent" if v is None else f"{v:#x}"  # noqa: E731
            return f"register {name}: {show(want)} != {show(got)}"
    if expected.regions != actual.regions:
        diff = sorted(set(expected.regions) ^ set(actual.regions))[0]
        return f"memory map: region [{diff[0]:#x}, {diff[1]:#x}) perms {diff[2]}"
    for addr in sorted(set(expected.pages) | set(actual.pages)):
        want_page = expected.pages.get(addr, b"")
        got_page = actual.pages.get(addr, b"")
        if want_page != got_page:
            at = next(
                (i for i, (a, b) in enumerate(zip(want_page, got_page, strict=False)) if a != b),
                min(len(want_page), len(got_page)),
            )
            return f"memory at {addr + at:#x}"
    if canonical_json(expected.platform) != canonical_json(actual.platform):
        keys = sorted(set(expected.platform) | set(actual.platform))
        key = next(
            (
                k
                for k in keys
                if canonical_json(expected.platform.get(k))
                != canonical_json(actual.platform.get(k))
            ),
            "?",
        )
        return f"platform state {key!r}"
    if expected.cursor != actual.cursor:
        return f"event cursor {expected.cursor} != {actual.cursor}"
    if expected.halted != actual.halted:
        return f"halted {expected.halted} != {actual.halted}"
    return None


def same_state(a: PageSummary, b: PageSummary) -> bool:
    """Whether two summarized states are the same state (`first_difference` says where two
    full states differ)."""
    return (
        (a.icount, a.registers, a.regions, a.cursor, a.halted)
        == (b.icount, b.registers, b.regions, b.cursor, b.halted)
        and a.digests == b.digests
        and canonical_json(a.platform) == canonical_json(b.platform)
    )


def page_digest(page: bytes | memoryview) -> bytes:
    """The digest a state hash takes of one page."""
    return hashlib.blake2b(page, digest_size=16).digest()


@dataclass(frozen=True)
class PageSummary:
    """A state as the recorder keeps it from one snapshot to the next: everything but the
    pages' contents, which are digests (the guest's memory itself stays in the emulator)."""

    icount: int
    registers: dict[str, int]
    regions: tuple[tuple[int, int, int], ...]
    digests: dict[int, bytes] = field(repr=False)  # of the non-zero pages, by address
    platform: dict[str, Any]
    cursor: int
    halted: bool = False


def summary_hash(summary: PageSummary, version: int = HASH_VERSION) -> str:
    """The state hash of a summarized state (the same as `PageDigests.state_hash` of the
    full state)."""
    h = hashlib.blake2b(digest_size=16)
    if version >= 2:
        h.update(canonical_json(summary.platform))
        h.update(f"cursor={summary.cursor};halted={int(summary.halted)};".encode())
    for name in sorted(summary.registers):
        h.update(f"{name}={summary.registers[name]:x};".encode())
    for start, end, perms in summary.regions:
        h.update(f"[{start:x},{end:x},{perms}]".encode())
    digests = summary.digests
    h.update(b"".join(addr.to_bytes(8, "little") + digests[addr] for addr in sorted(digests)))
    return h.hexdigest()


class PageDigests:
    """Per-page digests kept across snapshots so the state hash only rehashes changed pages."""

    def __init__(self, version: int = HASH_VERSION) -> None:
        self.version = version
        self._digests: dict[int, tuple[bytes, bytes]] = {}

    def summary(self, state: MachineState) -> PageSummary:
        """`state` with its pages as digests (pages equal to the last state's not rehashed)."""
        fresh: dict[int, tuple[bytes, bytes]] = {}
        for addr, page in state.pages.items():
            known = self._digests.get(addr)
            if known is not None and known[0] == page:
                fresh[addr] = known
            else:
                fresh[addr] = (page, page_digest(page))
        self._digests = fresh
        return PageSummary(
            state.icount, state.registers, state.regions,
            {addr: digest for addr, (_page, digest) in fresh.items()},
            state.platform, state.cursor, state.halted,
        )  # fmt: skip

    def state_hash(self, state: MachineState) -> str:
        return summary_hash(self.summary(state), self.version)
