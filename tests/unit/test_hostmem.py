"""Regions the address space maps live on ttdbg's own host memory: mprotect, munmap and
MAP_FIXED over part of one split it in place, keep every byte, and give back only memory no
region uses any more."""

from __future__ import annotations

import contextlib
import itertools

import unicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from ttdbg.backend.arch.x86_64 import ARCH
from ttdbg.backend.hostmem import _cut_sorted, _touched, cut, uncovered
from ttdbg.backend.linux.memory import MAP_ANONYMOUS, MAP_FIXED, AddressSpace
from ttdbg.backend.machine import Machine
from ttdbg.pages import PAGE

PRIVATE = 0x02
BASE = 0x7F0000000000


def _space() -> tuple[Machine, AddressSpace]:
    m = Machine(ARCH)
    return m, AddressSpace(m, 0x600000, BASE, 0x7FFF00000000, 8 << 20)


def _pattern(pages: int) -> bytes:
    return b"".join(bytes([i % 251 + 1]) * PAGE for i in range(pages))


def _host_view(space: AddressSpace, addr: int, size: int) -> bytes:
    """The bytes of guest [addr, addr + size) as the host block behind them holds them."""
    for block in space.host._blocks:
        if block.start <= addr and addr + size <= block.end:
            return block.memory[addr - block.start : addr - block.start + size]
    raise AssertionError(f"no host block behind {addr:#x}")


def test_mprotect_of_part_splits_in_place_and_keeps_every_byte() -> None:
    m, space = _space()
    addr = space.do_mmap(0, 64 * PAGE, 3, PRIVATE | MAP_ANONYMOUS)
    data = _pattern(64)
    m.write(addr, data)
    assert space.do_mprotect(addr + 16 * PAGE, 16 * PAGE, 1) == 0
    assert [r for r in m.regions() if addr <= r[0] < addr + 64 * PAGE] == [
        (addr, addr + 16 * PAGE, 3),
        (addr + 16 * PAGE, addr + 32 * PAGE, 1),
        (addr + 32 * PAGE, addr + 64 * PAGE, 3),
    ]
    assert m.read(addr, 64 * PAGE) == data
    # Each piece still shows the first allocation: a write through the guest lands in it.
    for piece in (addr, addr + 16 * PAGE, addr + 40 * PAGE):
        m.uc.mem_write(piece, b"written")
        assert _host_view(space, piece, 7) == b"written"


def test_map_fixed_over_the_middle_keeps_the_outer_pages() -> None:
    m, space = _space()
    addr = space.do_mmap(0, 32 * PAGE, 1, PRIVATE | MAP_ANONYMOUS)
    data = _pattern(32)
    m.write(addr, data)
    mid = addr + 8 * PAGE
    assert space.do_mmap(mid, 4 * PAGE, 3, PRIVATE | MAP_ANONYMOUS | MAP_FIXED) == mid
    assert m.read(addr, 8 * PAGE) == data[: 8 * PAGE]
    assert m.read(mid, 4 * PAGE) == bytes(4 * PAGE)
    assert m.read(mid + 4 * PAGE, 20 * PAGE) == data[12 * PAGE :]
    # The replaced pages of the first allocation are given back (read as zero there).
    assert _host_view(space, mid, 4 * PAGE) == bytes(4 * PAGE)


def test_unmapped_memory_is_given_back() -> None:
    m, space = _space()
    first = space.do_mmap(0, 16 * PAGE, 3, PRIVATE | MAP_ANONYMOUS)
    second = space.do_mmap(0, 16 * PAGE, 3, PRIVATE | MAP_ANONYMOUS)
    m.write(first, _pattern(16))
    m.write(second, _pattern(16))
    held = space.host.host_bytes
    assert space.do_munmap(first + 4 * PAGE, 4 * PAGE) == 0
    assert space.host.host_bytes == held  # the rest of the block is still mapped
    assert _host_view(space, first + 4 * PAGE, 4 * PAGE) == bytes(4 * PAGE)
    assert m.read(first, 4 * PAGE) == _pattern(4)
    assert space.do_munmap(first, 16 * PAGE) == 0
    assert space.host.host_bytes == held - 16 * PAGE
    assert m.read(second, 16 * PAGE) == _pattern(16)


def test_uncovered_finds_the_gaps_between_regions() -> None:
    regions = [(0x1000, 0x3000, 3), (0x4000, 0x5000, 1), (0x8000, 0x9000, 1)]
    assert uncovered(0x0, 0xA000, regions) == [
        (0x0, 0x1000),
        (0x3000, 0x4000),
        (0x5000, 0x8000),
        (0x9000, 0xA000),
    ]
    assert uncovered(0x1000, 0x3000, regions) == []
    assert uncovered(0x2000, 0x4800, regions) == [(0x3000, 0x4000)]


# -- the region walks look only near the range they are asked about: the same answers as a
# walk over every region (the oracle: page by page) --------------------------------------------

SLOTS = 48  # pages of a small address space the random maps are drawn in


@st.composite
def page_map(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """Sorted, disjoint regions (start, end, perms) over SLOTS pages, adjacent ones too."""
    cuts = sorted(draw(st.sets(st.integers(0, SLOTS), min_size=0, max_size=20)))
    regions = []
    for lo, hi in itertools.pairwise(cuts):
        if draw(st.booleans()):
            regions.append((BASE + lo * PAGE, BASE + hi * PAGE, draw(st.sampled_from([1, 3, 5]))))
    return regions


def _pages(regions: list[tuple[int, int, int]]) -> dict[int, int]:
    return {a: p for lo, hi, p in regions for a in range(lo, hi, PAGE)}


span = st.tuples(st.integers(0, SLOTS), st.integers(1, SLOTS)).map(
    lambda t: (BASE + min(t) * PAGE, BASE + max(t[0] + 1, t[1]) * PAGE)
)


@settings(max_examples=300, deadline=None)
@given(page_map(), span)
def test_uncovered_and_touched_agree_with_every_page(
    regions: list[tuple[int, int, int]], where: tuple[int, int]
) -> None:
    start, end = where
    mapped = _pages(regions)
    free = [a for a in range(start, end, PAGE) if a not in mapped]
    gaps = uncovered(start, end, regions)
    assert [a for lo, hi in gaps for a in range(lo, hi, PAGE)] == free
    assert _touched(start, end, regions) == (len(free) < (end - start) // PAGE)


@settings(max_examples=300, deadline=None)
@given(page_map(), span)
def test_cutting_sorted_ranges_is_cut(
    regions: list[tuple[int, int, int]], where: tuple[int, int]
) -> None:
    ranges = [[lo, hi] for lo, hi, _p in regions]
    assert _cut_sorted(ranges, *where) == cut(ranges, *where)


@settings(max_examples=60, deadline=None)
@given(page_map(), span, st.integers(1, 8))
def test_the_address_space_walks_agree_with_every_page(
    regions: list[tuple[int, int, int]], where: tuple[int, int], pages: int
) -> None:
    m = Machine(ARCH)
    space = AddressSpace(m, 0x600000, BASE + SLOTS * PAGE // 2, 0x7FFF00000000, 8 << 20)
    for lo, hi, perms in regions:
        space.host.map(lo, hi - lo, perms)
    start, end = where
    mapped = _pages(regions)
    parts = space._mapped_parts(start, end)
    assert _pages(parts) == {a: p for a, p in mapped.items() if start <= a < end}
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(parts))
    # mmap's placement: the highest free run of `pages` pages ending at or below the base
    # (a run lower than BASE counts as free: nothing is mapped there).
    top = space.mmap_base
    want = next(
        a for a in range(top - pages * PAGE, -1, -PAGE)
        if all(a + i * PAGE not in mapped for i in range(pages))
    )  # fmt: skip
    assert space._find_gap(pages * PAGE) == want
    assert space.host.backs(start, end) == any(lo <= start and end <= hi for lo, hi, _ in regions)


def test_a_restore_gives_back_the_blocks_it_unmapped() -> None:
    m, space = _space()
    kept = space.do_mmap(0, 8 * PAGE, 3, PRIVATE | MAP_ANONYMOUS)
    gone = space.do_mmap(0, 16 * PAGE, 3, PRIVATE | MAP_ANONYMOUS)
    held = space.host.host_bytes
    m.write(gone, _pattern(16))
    # What restore_memory does when the state had no mapping there, then the platform.
    m.uc.mem_unmap(gone, 16 * PAGE)
    space.host.reset()
    assert space.host.host_bytes == held - 16 * PAGE
    assert not space.host.backs(kept, kept + PAGE)  # the restore's map is Unicorn's now


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("mup"), span, st.sampled_from([1, 3, 5])), max_size=30))
def test_the_region_list_follows_every_change_of_the_map(
    changes: list[tuple[str, tuple[int, int], int]],
) -> None:
    """Machine.regions, which unpacks only what changed since it last looked, against
    Unicorn's own region list (the binding's, unpacked whole each time)."""
    m = Machine(ARCH)
    for op, (start, end), perms in changes:
        free = not any(lo < end and start < hi + 1 for lo, hi, _p in m.uc.mem_regions())
        if op == "m" and free:
            m.uc.mem_map(start, end - start, perms)
        elif op in "up" and not free:
            with contextlib.suppress(unicorn.UcError):  # (not all of it mapped)
                if op == "u":
                    m.uc.mem_unmap(start, end - start)
                else:
                    m.uc.mem_protect(start, end - start, perms)
        assert m.regions() == sorted((lo, hi + 1, p) for lo, hi, p in m.uc.mem_regions())
