"""Whole-machine state at one icount: registers, memory map, pages, platform; and its hash."""

from __future__ import annotations

import bisect
import hashlib
import json
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


def in_regions(regions: tuple[tuple[int, int, int], ...], addr: int) -> bool:
    """Whether `addr` lies in one of the sorted, non-overlapping `regions`."""
    i = bisect.bisect_right(regions, (addr, 1 << 65, 0)) - 1
    return i >= 0 and regions[i][0] <= addr < regions[i][1]


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


class PageDigests:
    """Per-page digests kept across snapshots so the state hash only rehashes changed pages."""

    def __init__(self, version: int = HASH_VERSION) -> None:
        self.version = version
        self._digests: dict[int, tuple[bytes, bytes]] = {}

    def state_hash(self, state: MachineState) -> str:
        h = hashlib.blake2b(digest_size=16)
        if self.version >= 2:
            h.update(canonical_json(state.platform))
            h.update(f"cursor={state.cursor};halted={int(state.halted)};".encode())
        for name in sorted(state.registers):
            h.update(f"{name}={state.registers[name]:x};".encode())
        for start, end, perms in state.regions:
            h.update(f"[{start:x},{end:x},{perms}]".encode())
        fresh: dict[int, tuple[bytes, bytes]] = {}
        for addr in sorted(state.pages):
            page = state.pages[addr]
            known = self._digests.get(addr)
            if known is not None and known[0] == page:
                digest = known[1]
            else:
                digest = hashlib.blake2b(page, digest_size=16).digest()
            fresh[addr] = (page, digest)
            h.update(addr.to_bytes(8, "little") + digest)
        self._digests = fresh
        return h.hexdigest()
