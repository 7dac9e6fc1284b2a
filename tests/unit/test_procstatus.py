"""procstatus reads the recorder's status and stat from the log: any bytes parse (a damaged
recording gives odd lines, never an exception), a name with ')' and spaces does not shift
stat's fields."""

from __future__ import annotations

import random

from ttdbg.backend.linux.calls.procstatus import _table_pages, _union, parse_host


def test_status_lines_and_stat_fields() -> None:
    host = parse_host(b"Name:\tx y\nUid:\t1\t2\t3\t4\nno colon\n\0" + b"7 (a) b (c)) R 5 6 -1\n")
    assert host.status == (("Name", "x y"), ("Uid", "1\t2\t3\t4"))
    assert host.stat_field(4) == 5  # after the last ')'
    assert host.stat_field(6) == -1
    assert host.stat_field(3) == 0  # the state letter is no number
    assert host.stat_field(40) == 0  # past the end


def test_any_bytes_parse() -> None:
    rng = random.Random(7)
    for size in (0, 1, 7, 8, 100, 5000):
        for _ in range(20):
            host = parse_host(bytes(rng.randrange(256) for _ in range(size)))
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in host.status)
            assert isinstance(host.stat_field(22), int)


def test_page_tables_counted_once_per_span_and_fast_for_huge_reservations() -> None:
    page, mib2, gib = 4096, 2 << 20, 1 << 30
    assert _table_pages([(0, page, 3)]) == 3  # one PTE, PMD and PUD page
    assert _table_pages([(0, page, 3), (2 * page, 3 * page, 3)]) == 3  # the same tables
    assert _table_pages([(0, page, 3), (mib2, mib2 + page, 3)]) == 4  # a second PTE page
    assert _table_pages([(0, page, 3), (gib, gib + page, 3)]) == 5
    # 16 TiB reserved (a sanitizer's shadow) is counted, not walked.
    huge = _table_pages([(1 << 44, 1 << 45, 0)])
    assert huge == (1 << 44 >> 21) + (1 << 44 >> 30) + (1 << 44 >> 39)
    assert _union([(5, 9), (0, 3), (2, 6), (20, 30)]) == [(0, 9), (20, 30)]
