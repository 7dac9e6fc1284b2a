"""How far a module's loadable segments reach past its bias, against pyelftools on every ELF
sample (64- and 32-bit), and 0 for headers Linux would not load."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.conftest import BIN
from tests.unit.test_elfheaders import ELVES
from ttdbg.backend.modules import load_span


@pytest.mark.parametrize("path", ELVES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_load_span_agrees_with_pyelftools(path: Path) -> None:
    image = path.read_bytes()
    elf = ELFFile(io.BytesIO(image))
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    assert loads
    assert load_span(image) == max(s["p_vaddr"] + s["p_memsz"] for s in loads)


def test_malformed_headers_span_nothing() -> None:
    """Nothing of a file whose program headers Linux would refuse is taken as a module's
    extent: a later mapping of it is a module of its own, not part of an earlier one."""
    image = (BIN / "hello").read_bytes()
    assert load_span(image) > 0
    phoff = int.from_bytes(image[0x20:0x28], "little")
    for bad in (
        b"",
        image[:0x30],  # the ELF header cut short
        image[: phoff + 0x38],  # the program header table cut short
        b"\x7fELF\x03" + image[5:],  # no such class
        image[:0x36] + (0x40).to_bytes(2, "little") + image[0x38:],  # e_phentsize not 56
        image[:0x38] + (2000).to_bytes(2, "little") + image[0x3A:],  # e_phnum past 64 KiB
        image[:0x38] + (0).to_bytes(2, "little") + image[0x3A:],  # no program headers
    ):
        assert load_span(bad) == 0
