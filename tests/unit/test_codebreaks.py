"""Where a breakpoint on a file's code applies, from file mappings and memory protections,
and a file's bytes and addresses, on ELF headers built here."""

from __future__ import annotations

import struct

from ttdbg.backend.codebreaks import (
    CodeBreakpoint,
    code_addresses,
    file_offset,
    file_vaddrs,
    is_shared_object,
    mapped_libraries,
)

DIGEST = bytes(range(32))
OTHER = bytes(32)
R, RW, RX = 1, 3, 5


def elf(loads: list[tuple[int, int, int]], e_type: int = 3) -> bytes:
    """An ELF64 header and PT_LOAD headers (vaddr, file offset, file size), nothing else."""
    phoff, count = 64, len(loads)
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"  # ELF64, little-endian
    header[16:18] = e_type.to_bytes(2, "little")
    header[0x20:0x28] = phoff.to_bytes(8, "little")
    header[0x36:0x38] = (0x38).to_bytes(2, "little")
    header[0x38:0x3A] = count.to_bytes(2, "little")
    phdrs = b"".join(
        struct.pack("<IIQQQQQQ", 1, 5, offset, vaddr, vaddr, size, size, 0x1000)
        for vaddr, offset, size in loads
    )
    return bytes(header) + phdrs


# A small library on 4 KiB pages: its data segment's page is the file's second page again.
LIBRARY = elf([(0, 0, 0x1000), (0x1000, 0x1000, 0x1800), (0x3E10, 0x1E10, 0x200)])


def test_file_offsets_and_addresses_of_segments() -> None:
    assert file_offset(LIBRARY, 0x1100) == 0x1100
    assert file_offset(LIBRARY, 0x3E20) == 0x1E20
    assert file_offset(LIBRARY, 0x5000) is None  # past every segment's file bytes
    assert file_vaddrs(LIBRARY, 0x1E20) == [0x1E20, 0x3E20]  # code page and data copy
    assert file_offset(b"\x7fELF" + bytes(60), 0) is None  # headers outside the file


def test_code_addresses_follow_the_mappings_and_skip_data_copies() -> None:
    bp = CodeBreakpoint(DIGEST, 0x1E20)
    base = 0x7F0000000000
    views = [
        [base + 0x1000, base + 0x3000, DIGEST.hex(), 0x1000],  # r-x
        [base + 0x3000, base + 0x4000, DIGEST.hex(), 0x1000],  # rw-, the same file page
    ]
    regions = [(base + 0x1000, base + 0x3000, RX), (base + 0x3000, base + 0x4000, RW)]
    assert code_addresses(views, regions, bp) == [base + 0x1E20]
    # Mapped elsewhere too (dlmopen), and another file at a third place.
    elsewhere = [[0x5000, 0x7000, DIGEST.hex(), 0x1000], [0x9000, 0xB000, OTHER.hex(), 0x1000]]
    regions2 = sorted([(0x5000, 0x7000, RX), (0x9000, 0xB000, RX), *regions])
    assert code_addresses(sorted(elsewhere + views), regions2, bp) == [0x5E20, base + 0x1E20]
    # Not executable (yet: the loader maps the whole file readable first), or not mapped.
    assert code_addresses(views, [(base + 0x1000, base + 0x4000, R)], bp) == []
    assert code_addresses([], regions, bp) == []
    assert code_addresses(views, regions, CodeBreakpoint(DIGEST, 0x900)) == []


def test_mapped_libraries_keep_shared_objects_in_order_named_by_a_path() -> None:
    program = elf([(0x400000, 0, 0x1000)], e_type=2)
    contents = {DIGEST: LIBRARY, OTHER: program, b"\x01" * 32: b"not an ELF file"}
    paths = {"/lib/b.so": DIGEST, "/lib/a.so": DIGEST, "/bin/prog": OTHER}
    found = mapped_libraries([OTHER, b"\x01" * 32, DIGEST, b"\x02" * 32], paths, contents.get)
    assert [(lib.path, lib.digest) for lib in found] == [("/lib/a.so", DIGEST)]
    assert is_shared_object(LIBRARY)
    assert not is_shared_object(program)
    unnamed = mapped_libraries([DIGEST], {}, contents.get)
    assert [lib.path for lib in unnamed] == [DIGEST.hex()[:12]]
