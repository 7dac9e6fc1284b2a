"""The ELF header and program headers as ttdbg's own reader gives them, against pyelftools on
every ELF sample (64- and 32-bit, executables, a PIE, the host's loader and C library), and
damaged headers refused with ValueError."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.conftest import BIN, SAMPLES, require_tool
from ttdbg.backend.elfheaders import PT_INTERP, machine_name, read_headers, type_name
from ttdbg.backend.loader import _read_elf
from ttdbg.errors import UnsupportedProgram

HOST = [Path("/lib64/ld-linux-x86-64.so.2"), Path("/lib/x86_64-linux-gnu/libc.so.6")]
ELVES = sorted(
    p
    for p in [*BIN.rglob("*"), *SAMPLES.glob("firmware/*/fw.elf"), *HOST]
    if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
)
PT_NAMES = {1: "PT_LOAD", 3: "PT_INTERP", 6: "PT_PHDR"}


def test_the_samples_cover_both_classes() -> None:
    classes = {ELFFile(io.BytesIO(p.read_bytes())).elfclass for p in ELVES}
    assert classes == {32, 64}, ELVES


@pytest.mark.parametrize("path", ELVES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_headers_agree_with_pyelftools(path: Path) -> None:
    image = path.read_bytes()
    elf = ELFFile(io.BytesIO(image))
    want = elf.header
    header, segments = read_headers(image)
    assert header.elf_class == elf.elfclass
    assert machine_name(header.machine) == want["e_machine"]
    assert type_name(header.type) == want["e_type"]
    got = (header.entry, header.phoff, header.phentsize, header.phnum)
    assert got == (want["e_entry"], want["e_phoff"], want["e_phentsize"], want["e_phnum"])
    assert len(segments) == elf.num_segments() > 0
    for ours, theirs in zip(segments, elf.iter_segments(), strict=True):
        fields = ("p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz")
        assert [getattr(ours, f[2:]) for f in fields] == [theirs[f] for f in fields]
        if ours.type in PT_NAMES:
            assert PT_NAMES[ours.type] == theirs["p_type"]
            assert ours.data(image) == theirs.data()


def test_damaged_headers_are_refused() -> None:
    image = (BIN / "hello").read_bytes()
    header, _segments = read_headers(image)
    end = header.phoff + header.phnum * header.phentsize
    for bad, why in (
        (b"", "Magic number"),
        (image[:15], "Magic number"),
        (b"\x7fELF\x03" + image[5:], "unknown ELF class"),
        (image[:40], "cut short"),
        (image[: end - 1], "does not fit"),
        (image[:54] + (20).to_bytes(2, "little") + image[56:], "Linux takes 56"),  # e_phentsize
        (image[:54] + (64).to_bytes(2, "little") + image[56:], "Linux takes 56"),
        (image[:56] + (0).to_bytes(2, "little") + image[58:], "Linux takes 1 to 1170"),  # e_phnum
        (image[:56] + (2000).to_bytes(2, "little") + image[58:], "Linux takes 1 to 1170"),
        (image[:56] + (0xFFFF).to_bytes(2, "little") + image[58:], "too many"),  # PN_XNUM
    ):
        with pytest.raises(ValueError, match=why):
            read_headers(bad)


def test_pt_interp_is_read_as_linux_reads_it(tmp_path: Path) -> None:
    """The first PT_INTERP, up to its first NUL; one without its terminating NUL is refused,
    as Linux's exec refuses it."""
    gcc = require_tool("gcc")
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    subprocess.run([gcc, "-o", str(tmp_path / "hello"), str(tmp_path / "hello.c")],
                   check=True, timeout=120)  # fmt: skip
    image = (tmp_path / "hello").read_bytes()
    _header, segments = read_headers(image)
    [interp] = [s for s in segments if s.type == PT_INTERP]
    path = image[interp.offset : interp.offset + interp.filesz]
    assert path.endswith(b"\0")
    assert _read_elf(image, "hello", "program").interp == path[:-1].decode()
    # A NUL inside: the path ends there.
    cut = image[: interp.offset + 5] + b"\0" + image[interp.offset + 6 :]
    assert _read_elf(cut, "hello", "program").interp == path[:5].decode()
    # No NUL at its end.
    end = interp.offset + interp.filesz - 1
    unterminated = image[:end] + b"x" + image[end + 1 :]
    with pytest.raises(UnsupportedProgram, match="bad PT_INTERP"):
        _read_elf(unterminated, "hello", "program")
