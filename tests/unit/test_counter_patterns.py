"""The code patterns the native block counter checks cover every counter read the architecture
finds: a block holding a read is never learned where the read would go unhooked."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttdbg.backend.arch import ARCHES
from ttdbg.backend.arch.base import Arch
from ttdbg.backend.arch.counters import CodePattern

WITH_READS = [a for a in ARCHES.values() if a.counter_reads is not None]


def flagged(arch: Arch, code: bytes) -> bool:
    return any(p.matches(code) for p in arch.counter_patterns)


def reads(arch: Arch, code: bytes, insn_size: int) -> list[object]:
    assert arch.counter_reads is not None
    insns = tuple(range(0x1000, 0x1000 + len(code), insn_size))
    return list(arch.counter_reads(0x1000, code, insns))


def test_every_architecture_that_finds_reads_has_patterns() -> None:
    assert {a.name for a in WITH_READS} == {"x86_64", "aarch64", "riscv64"}
    for arch in WITH_READS:
        assert arch.counter_patterns, arch.name


# Instruction words: random, and the counter reads themselves with random register fields.
A64_READS = [0xD53BE040, 0xD53BE020, 0xD53BE0C0, 0xD53BE0A0]
RV_READ = 0xC0000073  # csrrs x0, cycle, x0 with the fields below filled in


@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1),
            st.sampled_from(A64_READS).flatmap(
                lambda enc: st.integers(0, 31).map(lambda rt: enc | rt)
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_aarch64_reads_are_flagged(words: list[int]) -> None:
    arch = ARCHES["aarch64"]
    code = struct.pack(f"<{len(words)}I", *words)
    if reads(arch, code, 4):
        assert flagged(arch, code)


@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1),
            st.tuples(
                st.sampled_from([0xC00, 0xC01, 0xC02]),
                st.sampled_from([2, 3, 6, 7]),
                st.integers(0, 31),
            ).map(lambda f: RV_READ & 0xFFFFF | f[0] << 20 | f[1] << 12 | f[2] << 7),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 1),
)
def test_riscv_reads_are_flagged(words: list[int], compressed_first: int) -> None:
    """Also at a 2-byte offset, as after a compressed instruction."""
    arch = ARCHES["riscv64"]
    code = b"\x01\x00" * compressed_first + struct.pack(f"<{len(words)}I", *words)
    starts = (0x1000,) * compressed_first + tuple(
        0x1000 + 2 * compressed_first + 4 * i for i in range(len(words))
    )
    assert arch.counter_reads is not None
    if arch.counter_reads(0x1000, code, starts):
        assert flagged(arch, code)


@given(
    st.binary(max_size=24), st.sampled_from([b"\x0f\x31", b"\x0f\x01\xf9"]), st.binary(max_size=24)
)
def test_x86_reads_are_flagged(before: bytes, read: bytes, after: bytes) -> None:
    arch = ARCHES["x86_64"]
    code = before + read + after
    assert arch.counter_reads is not None
    assert arch.counter_reads(0x1000, code, (0x1000 + len(before),))
    assert flagged(arch, code)


@pytest.mark.parametrize(
    ("pattern", "code", "expected"),
    [
        (CodePattern(0x310F, 0xFFFF, 2, 1), b"\x90\x0f\x31", True),
        (CodePattern(0x310F, 0xFFFF, 2, 1), b"\x90\x0f", False),  # cut off at the end
        (
            CodePattern(0xD53BE040, 0xFFFFFFE0, 4, 4),
            b"\x00\x00" + struct.pack("<I", 0xD53BE040),
            False,
        ),
        (CodePattern(0xD53BE040, 0xFFFFFFE0, 4, 4), struct.pack("<II", 0, 0xD53BE045), True),
    ],
)
def test_pattern_offsets_and_bounds(pattern: CodePattern, code: bytes, expected: bool) -> None:
    assert pattern.matches(code) is expected
