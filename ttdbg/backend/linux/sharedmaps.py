"""The guest's shared file mappings: which file and offset each range shows, with what
protection, and each file's size (the pages past its end raise SIGBUS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..machine import PAGE

MAX_IDENTS = 1 << 20  # more files mapped shared at once than any process keeps


@dataclass
class SharedMap:
    """[start, end) shows file `ident` from `offset` on; `may_write`: its file was open for
    writing, so mprotect may make it writable (Linux refuses that otherwise)."""

    start: int
    end: int
    offset: int
    ident: int
    prot: int
    may_write: bool

    def file_range(self, lo: int, hi: int) -> tuple[int, int]:
        """The file offsets [lo, hi) of the guest addresses [lo, hi) inside this mapping."""
        return self.offset + lo - self.start, self.offset + hi - self.start

    def file_end(self, size: int) -> int:
        """The address where this mapping's pages past the end of a `size`-byte file start."""
        return min(
            self.end, max(self.start, self.start + (size + PAGE - 1) // PAGE * PAGE - self.offset)
        )

    def to_state(self) -> list[int]:
        return [self.start, self.end, self.offset, self.ident, self.prot, int(self.may_write)]


def _checked(raw: Any) -> SharedMap:
    """A shared mapping from a snapshot, refused (ValueError) unless well formed."""
    if not isinstance(raw, list) or len(raw) != 6 or not all(type(x) is int for x in raw):
        raise ValueError(f"bad shared mapping {str(raw)[:80]}")
    start, end, offset, ident, prot, may_write = raw
    if not (
        0 <= start < end < 1 << 64 and 0 <= offset < 1 << 63 and (start | end | offset) % PAGE == 0
    ):
        raise ValueError(f"bad shared mapping {raw!r}")
    if not (0 <= ident < MAX_IDENTS and 0 <= prot <= 7 and may_write in (0, 1)):
        raise ValueError(f"bad shared mapping {raw!r}")
    return SharedMap(start, end, offset, ident, prot, bool(may_write))


class SharedMaps:
    """The shared file mappings, sorted and disjoint, and the size of each file they show."""

    def __init__(self) -> None:
        self.maps: list[SharedMap] = []
        self.sizes: dict[int, int] = {}  # file ident -> its size, as last seen
        self.next_ident = 0

    def __bool__(self) -> bool:
        return bool(self.maps)

    def to_state(self) -> dict[str, Any]:
        return {
            "maps": [m.to_state() for m in self.maps],
            "sizes": [[ident, size] for ident, size in sorted(self.sizes.items())],
            "next_ident": self.next_ident,
        }

    def load_state(self, state: Any) -> None:
        if state is None:
            self.maps, self.sizes, self.next_ident = [], {}, 0
            return
        if isinstance(state, list):
            # Recorded before shared mappings were writable: read-only ranges, one file each,
            # whose sizes no event of that log can change.
            state = {
                "maps": [[*r, 0, i, 1, 0] for i, r in enumerate(state) if isinstance(r, list)],
                "sizes": [[i, 1 << 62] for i in range(len(state))],
                "next_ident": len(state),
            }
        if not isinstance(state, dict):
            raise ValueError("bad shared mappings")
        self.maps = sorted((_checked(raw) for raw in state.get("maps", [])), key=lambda m: m.start)
        sizes = state.get("sizes", [])
        if not all(
            isinstance(s, list) and len(s) == 2 and all(type(x) is int for x in s) for s in sizes
        ):
            raise ValueError("bad shared mapping sizes")
        self.sizes = {ident: size for ident, size in sizes if 0 <= size < 1 << 63}
        self.next_ident = state.get("next_ident", 0)
        if type(self.next_ident) is not int or not 0 <= self.next_ident <= MAX_IDENTS:
            raise ValueError("bad shared mapping ident")
        if any(m.ident not in self.sizes for m in self.maps):
            raise ValueError("a shared mapping of a file of unknown size")

    def overlapping(self, start: int, end: int) -> list[SharedMap]:
        return [m for m in self.maps if m.start < end and m.end > start]

    def of_file(self, ident: int) -> list[SharedMap]:
        return [m for m in self.maps if m.ident == ident]

    def add(self, entry: SharedMap, size: int) -> None:
        self.cut(entry.start, entry.end)
        self.maps = sorted([*self.maps, entry], key=lambda m: m.start)
        self.sizes[entry.ident] = size
        self.next_ident = max(self.next_ident, entry.ident + 1)

    def cut(self, start: int, end: int) -> None:
        """Forget [start, end), keeping the parts of the mappings around it; a file no mapping
        shows any more is forgotten too."""
        kept: list[SharedMap] = []
        for m in self.maps:
            if m.end <= start or m.start >= end:
                kept.append(m)
                continue
            if m.start < start:
                kept.append(SharedMap(m.start, start, m.offset, m.ident, m.prot, m.may_write))
            if m.end > end:
                off = m.offset + end - m.start
                kept.append(SharedMap(end, m.end, off, m.ident, m.prot, m.may_write))
        self.maps = kept
        live = {m.ident for m in kept}
        self.sizes = {i: s for i, s in self.sizes.items() if i in live}

    def protect(self, start: int, end: int, prot: int) -> None:
        """mprotect of [start, end): the mappings there take `prot` (split at its ends)."""
        inside = [
            SharedMap(max(m.start, start), min(m.end, end), m.file_range(max(m.start, start), 0)[0],
                      m.ident, prot, m.may_write)
            for m in self.overlapping(start, end)
        ]  # fmt: skip
        sizes = dict(self.sizes)
        self.cut(start, end)
        self.maps = sorted([*self.maps, *inside], key=lambda m: m.start)
        self.sizes = sizes

    def moved(self, old: int, length: int, new: int) -> list[SharedMap]:
        """The mappings inside [old, old + length) as they are once moved to `new`."""
        out = []
        for m in self.overlapping(old, old + length):
            lo, hi = max(m.start, old), min(m.end, old + length)
            out.append(SharedMap(lo - old + new, hi - old + new, m.file_range(lo, hi)[0], m.ident,
                                 m.prot, m.may_write))  # fmt: skip
        return out

    def aliased(self, start: int, end: int) -> bool:
        """Whether a file's pages that [start, end) shows are also shown outside it."""
        for entry in self.overlapping(start, end):
            lo, hi = entry.file_range(max(entry.start, start), min(entry.end, end))
            for other in self.of_file(entry.ident):
                for a, b in (
                    (other.start, min(other.end, start)),
                    (max(other.start, end), other.end),
                ):
                    if a < b:
                        o_lo, o_hi = other.file_range(a, b)
                        if o_lo < hi and lo < o_hi:
                            return True
        return False

    def extend(self, end: int, new_end: int) -> SharedMap | None:
        """The mapping that ends at `end`, grown to `new_end` (mremap), or None."""
        for m in self.maps:
            if m.end == end:
                m.end = new_end
                return m
        return None
