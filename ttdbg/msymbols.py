"""gdb's minimal symbols of one ELF image: the `<name+offset>` label gdb gives an address.

gdb labels an address (x's rows, branch targets) from its minimal symbols by rules of its own
(minsyms.c `lookup_minimal_symbol_by_pc_section`, printcmd.c `build_address_symbolic`): every
ELF symbol of an allocated section counts, not only functions and objects (IFUNC resolvers
such as `memcpy`, untyped labels such as crt's `load_gp`); among names of one address the
last by name wins, unless a global function of the same size precedes it; a symbol without a
size reaches to the next one, but only a code symbol without a size labels anything; and a
symbol labels only addresses of its own section.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ttdbg.pltsymbols import plt_entries

SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_TLS = 0x400
IFUNC_TYPES = ("STT_GNU_IFUNC", "STT_LOOS")  # pyelftools names type 10 by its range's start
# Names BFD treats as target-special (AArch64/RISC-V mapping symbols) or as assembler
# labels; gdb reads neither.
SKIPPED_NAMES = re.compile(r"^(?:\$[xd]|\.L)")


class Kind(Enum):
    """gdb's minimal symbol types, as far as labels tell them apart."""

    TEXT = "text"  # a global function (mst_text)
    IFUNC = "ifunc"  # a global IFUNC resolver (mst_text_gnu_ifunc)
    FILE_TEXT = "file_text"  # a file's own code symbol (mst_file_text)
    DATA = "data"  # anything in an allocated section that is not code


CODE_KINDS = frozenset((Kind.TEXT, Kind.IFUNC, Kind.FILE_TEXT))


@dataclass(frozen=True)
class MinimalSymbol:
    name: str
    addr: int
    size: int
    kind: Kind
    section: int  # the ELF section index: a symbol labels only addresses of its own section


def _kind(bind: str, kind: str, flags: int) -> Kind:
    if not flags & SHF_EXECINSTR:
        return Kind.DATA
    if bind == "STB_LOCAL":
        return Kind.FILE_TEXT
    return Kind.IFUNC if kind in IFUNC_TYPES else Kind.TEXT


def read_minimal_symbols(
    elf: ELFFile, bias: int, spans: list[tuple[int, int, int]]
) -> list[MinimalSymbol]:
    """The symbols gdb reads from the ELF's symbol tables (.symtab, else .dynsym), its
    `name@plt` entries and `name@got.plt` slots (`spans`: its `section_spans`)."""
    tables = [s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)]
    static = [t for t in tables if t["sh_type"] == "SHT_SYMTAB"]
    flags = [s["sh_flags"] for s in elf.iter_sections()]
    out = []
    for table in static or tables:  # gdb reads .dynsym only from a stripped file
        for sym in table.iter_symbols():
            index = sym["st_shndx"]
            kind = sym["st_info"]["type"]
            if not isinstance(index, int) or not 0 < index < len(flags):
                continue  # undefined, absolute (gdb skips those when labelling) or bad
            if kind in ("STT_SECTION", "STT_FILE", "STT_TLS") or not sym.name:
                continue
            if not flags[index] & SHF_ALLOC or flags[index] & SHF_TLS:
                continue
            if SKIPPED_NAMES.match(sym.name):
                continue
            what = _kind(sym["st_info"]["bind"], kind, flags[index])
            out.append(MinimalSymbol(sym.name, sym["st_value"] + bias, sym["st_size"], what, index))
    out += got_plt_slots(elf, bias)
    if not has_dynamic_symbols(elf):
        return out  # BFD synthesizes `name@plt` symbols from dynamic ones only
    starts = [start for start, _, _ in spans]
    for name, addr, size in plt_entries(elf):
        i = bisect.bisect_right(starts, addr + bias) - 1
        if i >= 0 and addr + bias < spans[i][1]:
            out.append(MinimalSymbol(name, addr + bias, size, Kind.TEXT, spans[i][2]))
    return out


def has_dynamic_symbols(elf: ELFFile) -> bool:
    """Whether the ELF's .dynsym holds a symbol besides the null one: without one (a static
    program, a static PIE) gdb names no PLT entry, not even an IRELATIVE one `*ABS*+0x...@plt`
    as objdump would, while a shared C library's IRELATIVE entries keep those names."""
    return any(
        isinstance(s, SymbolTableSection) and s["sh_type"] == "SHT_DYNSYM" and s.num_symbols() > 1
        for s in elf.iter_sections()
    )


def got_plt_slots(elf: ELFFile, bias: int) -> list[MinimalSymbol]:
    """gdb's `name@got.plt` symbols, one on each GOT slot the PLT's relocations fill (only in
    a file with a dynamic symbol table; a relocation without a symbol names BFD's `*ABS*`)."""
    sections = list(elf.iter_sections())
    if not any(s["sh_type"] == "SHT_DYNSYM" for s in sections):
        return []
    index = {s.name: i for i, s in enumerate(sections)}
    got = index.get(".got.plt", index.get(".got"))
    if got is None:
        return []
    slots = (got, index.get(".plt", -1))
    relocations = next(
        (s for s in sections if isinstance(s, RelocationSection) and s["sh_info"] in slots), None
    )
    if relocations is None:
        return []
    symbols = sections[relocations["sh_link"]] if relocations["sh_link"] < len(sections) else None
    size = elf.elfclass // 8
    spans = [(s["sh_addr"], s["sh_addr"] + s["sh_size"], i) for i, s in enumerate(sections)]
    out = []
    for reloc in relocations.iter_relocations():
        where, sym = reloc["r_offset"], reloc["r_info_sym"]
        name = "*ABS*"
        if sym and isinstance(symbols, SymbolTableSection) and sym < symbols.num_symbols():
            name = symbols.get_symbol(sym).name
        for start, end, i in spans:
            if i in slots and start <= where < end:
                out.append(MinimalSymbol(f"{name}@got.plt", where + bias, size, Kind.DATA, i))
    return out


def section_spans(elf: ELFFile, bias: int) -> list[tuple[int, int, int]]:
    """(start, end, index) of each allocated section with bytes in memory, by address."""
    spans = []
    for index, section in enumerate(elf.iter_sections()):
        flags = section["sh_flags"]
        if flags & SHF_ALLOC and not flags & SHF_TLS and section["sh_size"]:
            start = section["sh_addr"] + bias
            spans.append((start, start + section["sh_size"], index))
    return sorted(spans)


def label(name: str, start: int, addr: int) -> str:
    """gdb's `name+offset` for `addr` in the symbol `name` starting at `start`."""
    offset = addr - start
    return f"{name}+{offset}" if offset else name


class MinimalSymbols:
    """Labels by address, chosen as gdb chooses them."""

    @classmethod
    def read(cls, elf: ELFFile, bias: int) -> MinimalSymbols:
        """The minimal symbols of the ELF loaded at `bias`."""
        spans = section_spans(elf, bias)
        return cls(read_minimal_symbols(elf, bias, spans), spans)

    def __init__(self, symbols: Iterable[MinimalSymbol], spans: list[tuple[int, int, int]]) -> None:
        # gdb's order: by address, then by name as strcmp compares them.
        self.symbols = sorted(set(symbols), key=lambda s: (s.addr, s.name.encode()))
        self._addrs = [s.addr for s in self.symbols]
        self._spans = spans
        self._starts = [start for start, _, _ in spans]

    def _section(self, addr: int) -> int | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._spans[i][1]:
            return self._spans[i][2]
        return None

    def lookup(self, addr: int) -> MinimalSymbol | None:
        """The symbol gdb labels `addr` with, if any."""
        section = self._section(addr)
        if section is None:
            return None
        syms = self.symbols
        hi = bisect.bisect_right(self._addrs, addr) - 1
        zero_sized = None  # the nearest symbol without a size
        while hi >= 0:
            sym = syms[hi]
            if sym.section != section:
                hi -= 1
                continue
            before = syms[hi - 1] if hi > 0 else None
            if (  # a global function over another kind of symbol with the same bytes
                before is not None
                and sym.kind is not Kind.TEXT
                and before.kind is Kind.TEXT
                and (before.addr, before.size, before.section) == (sym.addr, sym.size, sym.section)
            ):
                hi -= 1
                continue
            if sym.size == 0:
                zero_sized = zero_sized or sym  # the nearest one labels, if none is sized
                hi -= 1
                continue
            if before is not None and sym.addr + sym.size <= addr < before.addr + before.size:
                hi -= 1  # inside an earlier symbol that overlaps this one
                continue
            break
        found = syms[hi] if hi >= 0 else None
        if zero_sized is not None and (found is None or found.size == 0):
            found = zero_sized
        if found is not None and found.size and addr >= found.addr + found.size:
            found = zero_sized
        if found is not None and found.size == 0 and found.kind not in CODE_KINDS:
            return None  # gdb does not label with a data symbol without a size
        return found

    def describe(self, addr: int) -> str:
        """`name+offset` (or `name`) of `addr`, or "" where gdb prints no label."""
        sym = self.lookup(addr)
        return "" if sym is None else label(sym.name, sym.addr, addr)
