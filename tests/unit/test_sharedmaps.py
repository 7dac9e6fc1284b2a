"""The shared file mappings' bookkeeping: splits keep each part's file offset, a file no
mapping shows is forgotten, and a snapshot's mappings are checked before they are used."""

from __future__ import annotations

import pytest

from ttdbg.backend.linux.sharedmaps import SharedMap, SharedMaps
from ttdbg.backend.machine import PAGE

A = 0x10000


def mapped() -> SharedMaps:
    maps = SharedMaps()
    maps.add(SharedMap(A, A + 4 * PAGE, 2 * PAGE, 0, 3, True), 5 * PAGE + 10)
    maps.add(SharedMap(A + 8 * PAGE, A + 9 * PAGE, 0, 1, 1, False), 100)
    return maps


def test_cutting_the_middle_keeps_each_side_at_its_file_offset() -> None:
    maps = mapped()
    maps.cut(A + PAGE, A + 2 * PAGE)
    assert [m.to_state() for m in maps.of_file(0)] == [
        [A, A + PAGE, 2 * PAGE, 0, 3, 1],
        [A + 2 * PAGE, A + 4 * PAGE, 4 * PAGE, 0, 3, 1],
    ]
    assert maps.sizes == {0: 5 * PAGE + 10, 1: 100}
    maps.cut(A + 8 * PAGE, A + 9 * PAGE)
    assert maps.sizes == {0: 5 * PAGE + 10}  # no mapping shows file 1 any more
    assert maps.next_ident == 2  # and its ident is not handed out again


def test_protect_splits_and_moved_keeps_offsets() -> None:
    maps = mapped()
    maps.protect(A + PAGE, A + 2 * PAGE, 1)
    assert [(m.start, m.offset, m.prot) for m in maps.of_file(0)] == [
        (A, 2 * PAGE, 3),
        (A + PAGE, 3 * PAGE, 1),
        (A + 2 * PAGE, 4 * PAGE, 3),
    ]
    assert maps.sizes[1] == 100
    moved = maps.moved(A + PAGE, 2 * PAGE, 0x90000)
    assert [(m.start, m.end, m.offset) for m in moved] == [
        (0x90000, 0x90000 + PAGE, 3 * PAGE),
        (0x90000 + PAGE, 0x90000 + 2 * PAGE, 4 * PAGE),
    ]


def test_the_pages_past_the_file_end() -> None:
    entry = SharedMap(A, A + 4 * PAGE, 2 * PAGE, 0, 3, True)
    assert entry.file_end(5 * PAGE + 10) == A + 4 * PAGE  # the file reaches past the mapping
    assert entry.file_end(3 * PAGE + 1) == A + 2 * PAGE  # its last page is partly in the file
    assert entry.file_end(PAGE) == A  # the mapping starts past the file's end


def test_state_round_trips_and_bad_states_are_refused() -> None:
    maps = mapped()
    again = SharedMaps()
    again.load_state(maps.to_state())
    assert again.to_state() == maps.to_state()
    good = maps.to_state()
    for bad in (
        {**good, "maps": [[A, A, 0, 0, 3, 1]]},  # empty
        {**good, "maps": [[A + 1, A + PAGE, 0, 0, 3, 1]]},  # unaligned
        {**good, "maps": [[A, A + PAGE, 0, 7, 3, 1]]},  # a file of unknown size
        {**good, "maps": [[A, A + PAGE, 0, 0, 9, 1]]},  # no such protection
        {**good, "maps": [[A, A + PAGE, 0, 0]]},
        {**good, "next_ident": -1},
        "maps",
    ):
        with pytest.raises(ValueError, match="shared mapping"):
            SharedMaps().load_state(bad)


def test_a_state_from_before_writable_mappings_loads_read_only() -> None:
    maps = SharedMaps()
    maps.load_state([[A, A + PAGE], [A + 4 * PAGE, A + 6 * PAGE]])
    assert [(m.start, m.end, m.prot, m.may_write) for m in maps.maps] == [
        (A, A + PAGE, 1, False),
        (A + 4 * PAGE, A + 6 * PAGE, 1, False),
    ]
    assert maps.next_ident == 2


def test_aliased_pages_are_those_shown_outside_the_range() -> None:
    maps = SharedMaps()
    maps.add(SharedMap(A, A + 2 * PAGE, 0, 0, 1, True), 4 * PAGE)
    maps.add(SharedMap(A + 4 * PAGE, A + 5 * PAGE, PAGE, 0, 1, True), 4 * PAGE)
    maps.add(SharedMap(A + 8 * PAGE, A + 9 * PAGE, 0, 1, 1, True), PAGE)  # another file
    assert maps.aliased(A, A + PAGE) is False  # file page 0 shows only there
    assert maps.aliased(A + PAGE, A + 2 * PAGE) is True  # file page 1 shows at A + 4 pages too
    assert maps.aliased(A + 4 * PAGE, A + 5 * PAGE) is True
    assert maps.aliased(A, A + 9 * PAGE) is False  # both places are inside the range
    assert maps.aliased(A + 8 * PAGE, A + 9 * PAGE) is False
