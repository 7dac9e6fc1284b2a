"""An ELF file's header and program headers, all that loading it needs, read with struct.

pyelftools builds its parsers for every file it opens (about 1.5 ms each, for the program
and again for its dynamic loader, at every record and replay) and takes 40 ms to import;
loading reads fourteen header fields and the program header table. The image is untrusted:
anything that does not fit raises ValueError with a one-line reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
ET_EXEC, ET_DYN = 2, 3
PN_XNUM = 0xFFFF  # e_phnum when the count is elsewhere (never in a loadable program)

# e_ident[EI_CLASS] -> (header layout, program header layout, field order of the latter)
_LAYOUTS = {
    1: ("HHIIIIIHHHHHH", "IIIIIIII", (0, 6, 1, 2, 3, 4, 5)),
    2: ("HHIQQQIHHHHHH", "IIQQQQQQ", (0, 1, 2, 3, 4, 5, 6)),
}
_ENDIAN = {1: "<", 2: ">"}  # e_ident[EI_DATA]


@dataclass(frozen=True)
class ElfHeader:
    elf_class: int  # 32 or 64
    type: int
    machine: int
    entry: int
    phoff: int
    phentsize: int
    phnum: int


@dataclass(frozen=True)
class ProgramHeader:
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int

    def data(self, image: bytes) -> bytes:
        """The segment's bytes in the file (fewer if the file ends first)."""
        return image[self.offset : self.offset + self.filesz]


def read_headers(image: bytes) -> tuple[ElfHeader, list[ProgramHeader]]:
    """The ELF header and the program headers of `image`; ValueError if it is not an ELF
    file or its program header table does not lie inside it."""
    if len(image) < 16 or image[:4] != b"\x7fELF":
        raise ValueError("Magic number does not match")
    layouts, endian = _LAYOUTS.get(image[4]), _ENDIAN.get(image[5])
    if layouts is None or endian is None:
        raise ValueError(f"unknown ELF class {image[4]} or data encoding {image[5]}")
    head_layout, phdr_layout, order = layouts
    head = struct.Struct(endian + head_layout)
    if len(image) < 16 + head.size:
        raise ValueError("the ELF header is cut short")
    fields = head.unpack_from(image, 16)
    e_type, e_machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum = fields[
        :10
    ]
    header = ElfHeader(32 * image[4], e_type, e_machine, entry, phoff, phentsize, phnum)
    if phnum == PN_XNUM:
        raise ValueError("too many program headers")
    phdr = struct.Struct(endian + phdr_layout)
    # As Linux's load_elf_phdrs: entries of exactly the class's size, 1 to 64 KiB of them.
    if phentsize != phdr.size:
        raise ValueError(f"program headers of {phentsize} bytes (Linux takes {phdr.size})")
    if not 0 < phnum * phdr.size <= 65536:
        raise ValueError(f"{phnum} program headers (Linux takes 1 to {65536 // phdr.size})")
    if phoff + phnum * phentsize > len(image):
        raise ValueError(
            f"program header table ({phnum} of {phentsize} bytes at {phoff:#x}) does not fit "
            f"the file ({len(image):#x} bytes)"
        )
    segments = []
    for n in range(phnum):
        raw = phdr.unpack_from(image, phoff + n * phentsize)
        segments.append(ProgramHeader(*(raw[i] for i in order)))
    return header, segments


# The machines ttdbg runs, by e_machine (the others are named from pyelftools' table).
_MACHINES = {62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV", 40: "EM_ARM"}


def machine_name(machine: int) -> str:
    """e_machine as pyelftools and the ELF specification name it (EM_X86_64)."""
    if machine in _MACHINES:
        return _MACHINES[machine]
    from elftools.elf.enums import ENUM_E_MACHINE  # only to name what ttdbg does not run

    names = {v: k for k, v in ENUM_E_MACHINE.items() if isinstance(v, int)}
    return names.get(machine, str(machine))


def type_name(elf_type: int) -> str:
    """e_type as named in messages (ET_REL, ET_CORE...)."""
    names = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
    return names.get(elf_type, f"{elf_type:#x}")
