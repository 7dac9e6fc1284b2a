"""Regions the address space maps live on ttdbg's own host memory: mprotect, munmap and
MAP_FIXED over part of one split it in place, keep every byte, and give back only memory no
region uses any more."""

from __future__ import annotations

from ttdbg.backend.arch.x86_64 import ARCH
from ttdbg.backend.hostmem import uncovered
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
