"""The guest's address space: brk, mmap, munmap, mprotect and mremap over Unicorn's map."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from typing import Any

from ..baseline import checked_view
from ..hostmem import HostMemory, cut
from ..machine import PAGE, Machine
from .errnos import EACCES, EINVAL, ENOMEM
from .sharedmaps import SharedMap, SharedMaps

MAP_FIXED, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x10, 0x20, 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
PROT_WRITE = 2
SIGBUS = 7


def _checked_ranges(ranges: Any) -> list[list[int]]:
    """Page ranges [start, end) from a snapshot, refused (ValueError) unless well formed."""
    out = []
    for start, end in ranges:
        if not (type(start) is int and type(end) is int and 0 <= start < end < 1 << 64):
            raise ValueError(f"bad page range {[start, end]!r}")
        if (start | end) % PAGE:
            raise ValueError(f"bad page range {[start, end]!r}")
        out.append([start, end])
    return out


def _overlaps(ranges: list[list[int]], start: int, end: int) -> list[tuple[int, int]]:
    return [(max(lo, start), min(hi, end)) for lo, hi in ranges if lo < end and hi > start]


def page_up(value: int) -> int:
    return (value + PAGE - 1) & ~(PAGE - 1)


class AddressSpace:
    """Linux's memory syscalls on top of a Machine; its state is brk and the mmap base."""

    def __init__(
        self, machine: Machine, brk_start: int, mmap_base: int, stack_top: int, stack_limit: int
    ) -> None:
        self.m = machine
        self.brk_start = brk_start
        self.brk = brk_start
        self.mmap_base = mmap_base
        self.stack_top = stack_top
        self.stack_floor = stack_top - stack_limit  # the stack never grows below this
        # File-backed mappings as [start, end, digest hex, file offset], sorted, disjoint:
        # snapshots store these pages as differences from the file's content.
        self.views: list[list[Any]] = []
        # Pages of file mappings wholly past the file's end: mapped without access, and an
        # access raises SIGBUS, as on Linux.
        self.past_eof: list[list[int]] = []
        # Shared file mappings: the stores into them reach their files (written back while
        # recording), and the files' changes show in them.
        self.shared = SharedMaps()
        # Told [start, end) before pages of shared file mappings there go or stop being
        # writable (the recorder writes them back to their files first).
        self.write_back: Callable[[int, int], None] | None = None
        # The host memory behind the regions mapped here: splitting one of them (mprotect or
        # munmap of part of it, MAP_FIXED over part of it) is bookkeeping, not a copy.
        self.host = HostMemory(machine.uc, machine.regions)
        # Told whenever file mappings or protections change (a timeline's breakpoints on a
        # library's code follow the library where it goes).
        self.on_change: Callable[[], None] | None = None
        # The most bytes mapped at once before the last unmap (Linux's hiwater_vm, which
        # /proc/self/status shows as VmPeak).
        self.peak_vm = 0
        # Pages mlock locked, as sorted disjoint [start, end) ranges (Linux's VM_LOCKED
        # mappings, which /proc/self/status counts as VmLck).
        self.locked: list[list[int]] = []

    def to_state(self) -> dict[str, Any]:
        return {
            "brk_start": self.brk_start,
            "brk": self.brk,
            "mmap_base": self.mmap_base,
            "stack_top": self.stack_top,
            "stack_floor": self.stack_floor,
            # Only when there are any: a static program's state stays what it always was.
            **({"views": [list(v) for v in self.views]} if self.views else {}),
            **({"past_eof": [list(r) for r in self.past_eof]} if self.past_eof else {}),
            **({"shared": self.shared.to_state()} if self.shared.next_ident else {}),
            **({"peak_vm": self.peak_vm} if self.peak_vm else {}),
            **({"locked": [list(r) for r in self.locked]} if self.locked else {}),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for key in ("brk_start", "brk", "mmap_base", "stack_top", "stack_floor"):
            setattr(self, key, state[key])
        self.views = [list(checked_view(v)) for v in state.get("views", [])]
        self.past_eof = _checked_ranges(state.get("past_eof", []))
        self.shared.load_state(state.get("shared"))
        peak = state.get("peak_vm", 0)
        if type(peak) is not int or not 0 <= peak < 1 << 64:
            raise ValueError(f"bad peak_vm {peak!r}")
        self.peak_vm = peak
        self.locked = _checked_ranges(state.get("locked", []))
        self.host.reset()

    def add_file_mapping(self, start: int, end: int, file_end: int) -> None:
        """Note a file mapping of [start, end) whose file content ends at `file_end`: the
        pages from there on take no access (SIGBUS), whatever the mapping's protection."""
        if file_end < end:
            low = max(start, file_end)
            self.m.uc.mem_protect(low, end - low, 0)
            self.past_eof = sorted([*self.past_eof, [low, end]])

    def add_shared_mapping(self, entry: SharedMap, size: int) -> None:
        """Note that [entry.start, entry.end) shows its file shared; the file has `size` bytes."""
        self.shared.add(entry, size)
        self.set_file_size(entry.ident, size)

    def set_file_size(self, ident: int, size: int) -> None:
        """File `ident` now has `size` bytes: in its shared mappings, the pages past its end
        take no access (SIGBUS), and those before it their mapping's protection again."""
        self.shared.sizes[ident] = size
        for entry in self.shared.of_file(ident):
            boundary = entry.file_end(size)
            was = _overlaps(self.past_eof, entry.start, entry.end)
            for lo, hi in was:
                if lo < boundary:
                    self.m.uc.mem_protect(lo, min(hi, boundary) - lo, entry.prot)
            self.past_eof = cut(self.past_eof, entry.start, entry.end)
            if boundary < entry.end:
                now_past = [[boundary, entry.end]]
                for lo, hi in was:
                    now_past = cut(now_past, lo, hi)
                for lo, hi in now_past:
                    self.m.uc.mem_protect(lo, hi - lo, 0)
                self.past_eof = sorted([*self.past_eof, [boundary, entry.end]])

    def write_file_bytes(self, ident: int, offset: int, data: bytes) -> None:
        """File `ident` holds `data` at `offset` now: its shared mappings show it."""
        for entry in self.shared.of_file(ident):
            lo = max(offset, entry.offset)
            hi = min(offset + len(data), entry.offset + entry.end - entry.start)
            if lo < hi:
                self.m.write(entry.start + lo - entry.offset, data[lo - offset : hi - offset])

    def protection_signal(self, addr: int) -> int | None:
        """SIGBUS for an access past the end of a mapped file, else None (SIGSEGV)."""
        return SIGBUS if _overlaps(self.past_eof, addr, addr + 1) else None

    def add_view(self, start: int, end: int, digest: bytes, offset: int) -> None:
        """Note that [start, end) now shows the file with `digest` from `offset` on."""
        self._drop_views(start, end)
        self.views.append([start, end, digest.hex(), offset])
        self.views.sort()
        if self.on_change is not None:
            self.on_change()

    def _drop_views(self, start: int, end: int) -> None:
        """Forget [start, end) in the file-backed mappings, keeping the parts around it."""
        kept: list[list[Any]] = []
        for v_start, v_end, digest, offset in self.views:
            if v_end <= start or v_start >= end:
                kept.append([v_start, v_end, digest, offset])
                continue
            if v_start < start:
                kept.append([v_start, start, digest, offset])
            if v_end > end:
                kept.append([end, v_end, digest, offset + end - v_start])
        if kept != self.views:
            self.views = kept
            if self.on_change is not None:
                self.on_change()

    def remap_in_place(
        self, start: int, end: int, prot: int, digest: bytes, offset: int, content: bytes
    ) -> bool:
        """MAP_FIXED of a file over pages that already show that file from the same offset,
        byte for byte, inside one region on ttdbg's own host memory (the dynamic loader maps
        each segment of a library over its first mapping of the whole file): only the
        protection changes, and the old mapping's bookkeeping goes, as for a fresh mapping.
        False, with nothing changed, otherwise (the caller maps and writes the pages)."""
        if self.m.kernel_write_listener is not None:
            return False  # a listener hears every byte mmap writes, as it always did
        hexdigest = digest.hex()
        same_view = any(
            v_start <= start and end <= v_end and v_digest == hexdigest
            and v_offset + start - v_start == offset
            for v_start, v_end, v_digest, v_offset in self.views
        )  # fmt: skip
        # One mapped part clipped to exactly [start, end): a single region covers it whole.
        parts = self._mapped_parts(start, end)
        if not (same_view and len(parts) == 1 and parts[0][:2] == (start, end)):
            return False
        if not self.host.holds(start, end, content, offset):
            return False
        self.m.uc.mem_protect(start, end - start, prot & 7)
        self._drop_views(start, end)
        self.past_eof = cut(self.past_eof, start, end)
        self.locked = cut(self.locked, start, end)
        self.shared.cut(start, end)  # its pages hold the file's bytes: nothing to write back
        return True

    def grow_stack(self, addr: int) -> bool:
        """Map the stack down to `addr` if it lies in the stack's growth zone, as Linux does
        for an access below the stack within RLIMIT_STACK."""
        if not self.stack_floor <= addr < self.stack_top:
            return False
        low = self.stack_top  # the stack is the run of regions ending at its top
        for b, e, _p in sorted(self.m.regions(), reverse=True):
            if e == low:
                low = b
        new_low = max(self.stack_floor, (addr & ~(PAGE - 1)) - 16 * PAGE)
        if new_low >= low or not self._is_free(new_low, low):
            return False
        self.m.uc.mem_map(new_low, low - new_low, 3)
        return True

    # -- helpers over Unicorn's region list ----------------------------------------------------

    def _mapped_parts(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """The mapped pieces of [start, end) as (start, end, perms)."""
        regions = self.m.regions()
        parts = []
        # Sorted and disjoint: from the last region starting before `start` up to `end`.
        first = max(bisect.bisect_right(regions, (start,)) - 1, 0)
        for b, e, p in itertools.islice(regions, first, None):
            if b >= end:
                break
            lo, hi = max(b, start), min(e, end)
            if lo < hi:
                parts.append((lo, hi, p))
        return parts

    def _split_at(self, start: int, end: int) -> None:
        """Make `start` and `end` region boundaries, as Unicorn would when protecting or
        unmapping part of a region. Its own split copies the whole region into fresh memory,
        touching every page (8 MiB for each thread stack glibc guards); this one writes back
        only the pages that are not zero. Regions on ttdbg's own host memory are left to
        Unicorn, which splits those in place."""
        uc = self.m.uc
        regions = self.m.regions()
        # Only the regions `start` or `end` falls strictly inside (sorted and disjoint: the
        # last one starting before each).
        around = {
            regions[i] for x in (start, end) if (i := bisect.bisect_left(regions, (x,)) - 1) >= 0
        }
        for b, e, perms in sorted(around):
            cuts = [x for x in (start, end) if b < x < e]
            if not cuts or self.host.backs(b, e):
                continue
            pages = self.m.nonzero_pages(b, e)
            uc.mem_unmap(b, e - b)
            bounds = [b, *cuts, e]
            for lo, hi in itertools.pairwise(bounds):
                uc.mem_map(lo, hi - lo, perms)
            for addr, data in pages.items():
                uc.mem_write(addr, data)

    def lock(self, start: int, end: int) -> None:
        """mlock: the pages of [start, end) are locked (they stay so until munlock or unmap)."""
        merged: list[list[int]] = []
        for lo, hi in sorted([*cut(self.locked, start, end), [start, end]]):
            if merged and merged[-1][1] >= lo:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.locked = merged

    def unlock(self, start: int, end: int) -> None:
        self.locked = cut(self.locked, start, end)

    def locked_bytes(self) -> int:
        return sum(hi - lo for lo, hi in self.locked)

    def mapped_bytes(self) -> int:
        """How many bytes are mapped now (Linux's total_vm, in bytes)."""
        return sum(e - b for b, e, _p in self.m.regions())

    def _is_free(self, start: int, end: int) -> bool:
        return not self._mapped_parts(start, end)

    def _unmap(self, start: int, end: int) -> None:
        if self.write_back is not None and self.shared.overlapping(start, end):
            self.write_back(start, end)
        self._split_at(start, end)
        parts = self._mapped_parts(start, end)
        if parts:
            self.peak_vm = max(self.peak_vm, self.mapped_bytes())
        if self.m.kernel_write_listener is not None:
            # Heard as madvise(MADV_DONTNEED) is: a write of zeros over the pages that were
            # not zero. A new anonymous mapping there reads zeros (munmap then mmap, brk down
            # then up, MAP_FIXED over a mapping), and the write that gave its bytes their
            # value must not be one made before the unmap.
            for lo, hi, _p in parts:
                self.m.zero(lo, hi - lo)
        for lo, hi, _p in parts:
            self.m.uc.mem_unmap(lo, hi - lo)
            if self.m.dirty is not None:
                self.m.dirty.forget(lo, hi)
        if parts:
            self.host.release(start, end, self.m.regions())
        self._drop_views(start, end)
        self.past_eof = cut(self.past_eof, start, end)
        self.locked = cut(self.locked, start, end)
        self.shared.cut(start, end)

    def _find_gap(self, length: int) -> int:
        """Top-down search below the mmap base, as Linux places mappings."""
        top = self.mmap_base
        regions = self.m.regions()
        # Downwards from the last region starting below the base (those above never count).
        for i in range(bisect.bisect_left(regions, (top,)) - 1, -1, -1):
            b, e, _p = regions[i]
            if e <= top - length:
                return top - length
            top = b
        return top - length if top - length >= PAGE * 16 else -ENOMEM

    # -- syscalls ------------------------------------------------------------------------------

    def do_brk(self, new: int) -> int:
        if new < self.brk_start:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new)
        if new_top > old_top:
            if not self._is_free(old_top, new_top):
                return self.brk
            self.host.map(old_top, new_top - old_top, 3)
        elif new_top < old_top:
            self._unmap(new_top, old_top)
        self.brk = new
        return new

    def do_mmap(self, addr: int, length: int, prot: int, flags: int) -> int:
        """Reserve and map the pages; the caller fills file-backed contents."""
        if length == 0 or addr % PAGE:
            return -EINVAL
        length = page_up(length)
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if flags & MAP_FIXED_NOREPLACE and not self._is_free(addr, addr + length):
                return -17  # EEXIST
            self._unmap(addr, addr + length)
        elif not (addr and self._is_free(addr, addr + length)):
            addr = self._find_gap(length)
            if addr < 0:
                return addr
        self.host.map(addr, length, prot & 7)
        return addr

    def do_munmap(self, addr: int, length: int) -> int:
        if addr % PAGE or length == 0:
            return -EINVAL
        self._unmap(addr, addr + page_up(length))
        return 0

    def do_mprotect(self, addr: int, length: int, prot: int) -> int:
        if addr % PAGE:
            return -EINVAL
        end = addr + page_up(length)
        parts = self._mapped_parts(addr, end)
        if sum(hi - lo for lo, hi, _p in parts) != end - addr:
            return -ENOMEM
        shared = self.shared.overlapping(addr, end)
        if prot & PROT_WRITE and not all(entry.may_write for entry in shared):
            return -EACCES  # as Linux: a shared mapping of a file opened read-only
        if prot & PROT_WRITE and shared and self.shared.aliased(addr, end):
            # Its pages show elsewhere too, and ttdbg keeps a copy per mapping: stores here
            # would not show there. Refused (Linux allows it) rather than shown stale.
            return -EACCES
        self._split_at(addr, end)
        if shared:
            # Stores made while writable reach the file now: only writable mappings are
            # compared with their files later.
            if self.write_back is not None and not prot & PROT_WRITE:
                self.write_back(addr, end)
            self.shared.protect(addr, end, prot & 7)
        for lo, hi, _p in parts:
            self.m.uc.mem_protect(lo, hi - lo, prot & 7)
        for lo, hi in _overlaps(self.past_eof, addr, end):
            self.m.uc.mem_protect(lo, hi - lo, 0)
        if self.on_change is not None and any(s < end and addr < e for s, e, *_ in self.views):
            self.on_change()  # (only file mappings hold a library's code)
        return 0

    def do_mremap(self, old: int, old_len: int, new_len: int, flags: int) -> int:
        old_len, new_len = page_up(old_len), page_up(new_len)
        parts = self._mapped_parts(old, old + old_len)
        if old % PAGE or not parts or sum(h - lo for lo, h, _p in parts) != old_len:
            return -EINVAL
        perms = parts[0][2]
        tail = self.shared.overlapping(old + old_len - PAGE, old + old_len)
        if tail:
            perms = tail[0].prot  # its pages past the file's end take no access
            if new_len > old_len and self._grows_into_alias(tail[0], old, old_len, new_len):
                return -ENOMEM  # refused rather than shown stale (see _shared_entry)
        if new_len <= old_len:
            self._unmap(old + new_len, old + old_len)
            return old
        tail_locked = bool(_overlaps(self.locked, old + old_len - PAGE, old + old_len))
        if self._is_free(old + old_len, old + new_len):
            self.host.map(old + old_len, new_len - old_len, perms)
            self._grow_shared(old + old_len, old + new_len)
            if tail_locked:  # the mapping grows, and it is a locked one
                self.lock(old + old_len, old + new_len)
            return old
        if not flags & MREMAP_MAYMOVE:
            return -ENOMEM
        new = self._find_gap(new_len)
        if new < 0:
            return new
        data = self.m.read(old, old_len)
        self.host.map(new, new_len, perms)
        self.m.write(new, data)
        past_eof = [
            [lo - old + new, hi - old + new]
            for lo, hi in _overlaps(self.past_eof, old, old + old_len)
        ]
        locked = [
            [lo - old + new, hi - old + new]
            for lo, hi in _overlaps(self.locked, old, old + old_len)
        ]
        sizes = dict(self.shared.sizes)
        shared = self.shared.moved(old, old_len, new)
        self._unmap(old, old + old_len)
        for lo, hi in locked:
            self.lock(lo, hi)
        if tail_locked:
            self.lock(new + old_len, new + new_len)
        self.past_eof = sorted(self.past_eof + past_eof)
        for entry in shared:
            self.shared.add(entry, sizes[entry.ident])
        for lo, hi in past_eof:
            self.m.uc.mem_protect(lo, hi - lo, 0)
        self._grow_shared(new + old_len, new + new_len)
        return new

    def _grows_into_alias(self, entry: SharedMap, old: int, old_len: int, new_len: int) -> bool:
        """Whether the file pages a shared mapping would grow over (mremap) show elsewhere
        where either side is writable: ttdbg keeps a copy per mapping."""
        lo = entry.offset + old + old_len - entry.start
        hi = lo + new_len - old_len
        for other in self.shared.of_file(entry.ident):
            if old <= other.start and other.end <= old + old_len:
                continue  # moves with it
            o_lo, o_hi = other.file_range(other.start, other.end)
            if (entry.prot | other.prot) & PROT_WRITE and o_lo < hi and lo < o_hi:
                return True
        return False

    def _grow_shared(self, end: int, new_end: int) -> None:
        """A shared file mapping ending at `end` now goes on to `new_end` (mremap): its new
        pages past the file's end take no access. Their content before it is the file's,
        which the caller brings in (the platform's file-change step after mremap)."""
        entry = self.shared.extend(end, new_end)
        if entry is not None:
            self.set_file_size(entry.ident, self.shared.sizes[entry.ident])
