"""Symbols and source lines of the recorded program and of the libraries it has loaded,
read from their ELF images (and DWARF)."""

from __future__ import annotations

import bisect
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ttdbg.msymbols import MinimalSymbols, label
from ttdbg.pltsymbols import plt_entries

T = TypeVar("T")
LABELS_KEPT = 4096  # gdb labels of addresses kept (the stack's words, x's rows)


def _untrusted(read: Callable[[], T], nothing: T) -> T:
    """What `read` returns from a program's ELF/DWARF, or `nothing` if it fails at all.

    The program's debug info is untrusted input, and pyelftools answers malformed data
    with whatever its parsing hits (AssertionError, ZeroDivisionError, IndexError, ...), so
    any failure means "no symbols/lines here", never a crash.
    """
    try:
        return read()
    except (Exception, RecursionError):
        return nothing


def _load_span(elf: ELFFile, bias: int) -> tuple[int, int]:
    """[low, high) of the loaded segments."""
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    if not loads:
        return (0, 0)
    low = min(s["p_vaddr"] for s in loads)
    high = max(s["p_vaddr"] + s["p_memsz"] for s in loads)
    return (low + bias, high + bias)


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_function: bool = True  # False for data objects (STT_OBJECT)
    is_global: bool = True  # False for a file's own (STB_LOCAL) symbols


def _plt_symbols(elf: ELFFile, bias: int) -> list[Symbol]:
    """`name@plt` for each PLT entry, where calls into other libraries land."""
    return [Symbol(name, addr + bias, size) for name, addr, size in plt_entries(elf)]


@dataclass(frozen=True)
class SourceLine:
    path: str  # as the compiler recorded it (joined with the compilation directory)
    line: int


@dataclass(frozen=True)
class LoadedImage:
    """An ELF file as it is loaded: its bytes and its load bias (what its addresses gain)."""

    name: str
    image: bytes
    bias: int


class Symbols:
    """Function and object symbols by address, and the DWARF line table when there is one.

    The program's own symbols come first; `set_libraries` adds those of the libraries loaded
    at the moment (the dynamic loader, libc, ...), each answering for its own address range.
    """

    def __init__(self, image: bytes, bias: int = 0) -> None:
        self.symbols: list[Symbol] = []
        # (address, line) in address order; a None line ends a sequence: no source there.
        self._lines: list[tuple[int, SourceLine | None]] = []
        self.span = (0, 0)  # [low, high) of the loaded segments
        self._libraries: list[Symbols] = []
        self._parsed: dict[tuple[str, int, int], Symbols] = {}
        self._image, self._bias = image, bias
        self._labels: MinimalSymbols | None = None  # gdb's minimal symbols, read when asked
        # address -> its gdb label, for the libraries answered for now (most of the stack's
        # words are the same from one step to the next)
        self._labelled: dict[int, str] = {}
        try:
            elf = ELFFile(io.BytesIO(image))
        except Exception:
            elf = None  # not an ELF pyelftools can read: addresses are shown without names
        if elf is not None:
            self.span = _untrusted(lambda: _load_span(elf, bias), (0, 0))
            self.symbols = _untrusted(lambda: self._read_symbols(elf, bias), [])
            self.symbols += _untrusted(lambda: _plt_symbols(elf, bias), [])
            self._lines = _untrusted(lambda: self._read_lines(elf, bias), [])
        # Among names of one address, the last is shown, as gdb shows them: a global one
        # before a file's own, then the last by name (`printf`, not `_IO_printf`).
        self.symbols.sort(key=lambda s: (s.addr, s.is_global, s.name.encode()))
        self._addrs = [s.addr for s in self.symbols]
        # A stable sort keeps each sequence's end before a sequence starting at that address.
        self._lines.sort(key=lambda e: (e[0], e[1] is not None))
        self._line_addrs = [a for a, _ in self._lines]
        self.by_name = {s.name: s for s in self.symbols}
        self._functions: dict[str, list[Symbol]] | None = None  # by name, made when asked

    def _read_symbols(self, elf: ELFFile, bias: int) -> list[Symbol]:
        symbols: list[Symbol] = []
        for section in elf.iter_sections():
            if not isinstance(section, SymbolTableSection):
                continue
            for sym in section.iter_symbols():
                kind = sym["st_info"]["type"]
                if kind in ("STT_FUNC", "STT_OBJECT") and sym.name and sym["st_value"]:
                    symbols.append(
                        Symbol(
                            sym.name,
                            sym["st_value"] + bias,
                            sym["st_size"],
                            kind == "STT_FUNC",
                            sym["st_info"]["bind"] != "STB_LOCAL",
                        )
                    )
        return symbols

    def _read_lines(self, elf: ELFFile, bias: int) -> list[tuple[int, SourceLine | None]]:
        lines: list[tuple[int, SourceLine | None]] = []
        if not elf.has_dwarf_info():
            return lines
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            program = dwarf.line_program_for_CU(cu)
            if program is None:
                continue
            top = cu.get_top_DIE()
            comp_dir = top.attributes.get("DW_AT_comp_dir")
            base = comp_dir.value.decode(errors="replace") if comp_dir else ""
            files = program["file_entry"]
            dirs = program["include_directory"]
            version = program.header["version"]
            stmt_at = -1  # the address of the sequence's last statement entry
            for entry in program.get_entries():
                state = entry.state
                if state is None:
                    continue
                if state.end_sequence:  # the address past the sequence's last instruction
                    lines.append((state.address + bias, None))
                    stmt_at = -1
                    continue
                if not state.is_stmt and state.address == stmt_at:
                    continue  # gdb takes a statement's line over a non-statement at its address
                if state.is_stmt:
                    stmt_at = state.address
                index = state.file if version >= 5 else state.file - 1
                if not 0 <= index < len(files):
                    continue
                fe = files[index]
                name = fe.name.decode(errors="replace")
                dir_index = fe.dir_index if version >= 5 else fe.dir_index - 1
                if 0 <= dir_index < len(dirs) and not name.startswith("/"):
                    name = os.path.join(dirs[dir_index].decode(errors="replace"), name)
                path = os.path.join(base, name)
                lines.append((state.address + bias, SourceLine(path, state.line)))
        return lines

    def set_libraries(self, images: Sequence[LoadedImage]) -> None:
        """Answer for these loaded images too (each parsed once per name and bias)."""
        libraries = []
        for img in images:
            key = (img.name, img.bias, len(img.image))
            parsed = self._parsed.get(key)
            if parsed is None:
                parsed = self._parsed[key] = Symbols(img.image, img.bias)
            libraries.append(parsed)
        if libraries != self._libraries:  # the same Symbols objects: the labels still hold
            self._labelled.clear()
        self._libraries = libraries

    @property
    def libraries(self) -> list[Symbols]:
        """The symbols of the libraries loaded at the moment (set_libraries)."""
        return self._libraries

    @property
    def libraries_key(self) -> tuple[int, ...]:
        """Changes when the set of libraries answered for changes (for caches of labels)."""
        return tuple(id(lib) for lib in self._libraries)

    def _owner(self, addr: int) -> Symbols:
        """This program's symbols, or those of the library whose range holds `addr`."""
        if self._libraries and not self.span[0] <= addr < self.span[1]:
            for lib in self._libraries:
                if lib.span[0] <= addr < lib.span[1]:
                    return lib
        return self

    def lookup(self, addr: int) -> Symbol | None:
        """The symbol containing `addr` (or the closest one below it, for size-0 symbols)."""
        owner = self._owner(addr)
        if owner is not self:
            return owner.lookup(addr)
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        sym = self.symbols[i]
        if sym.size and addr >= sym.addr + sym.size:
            return None
        return sym

    def describe(self, addr: int) -> str:
        sym = self.lookup(addr)
        return "" if sym is None else label(sym.name, sym.addr, addr)

    def describe_within(self, addr: int) -> str:
        """The `symbol+offset` label gdb gives `addr` in x's rows and branch targets (from
        its minimal symbols, by its rules), or "" where gdb prints none."""
        labelled = self._labelled
        known = labelled.get(addr)
        if known is None:
            if len(labelled) >= LABELS_KEPT:
                labelled.clear()
            known = labelled[addr] = self._owner(addr)._minimal_symbols().describe(addr)
        return known

    def _minimal_symbols(self) -> MinimalSymbols:
        """This image's own minimal symbols, read when first asked for."""
        if self._labels is None:
            self._labels = _untrusted(self._read_labels, MinimalSymbols([], []))
        return self._labels

    def _read_labels(self) -> MinimalSymbols:
        return MinimalSymbols.read(ELFFile(io.BytesIO(self._image)), self._bias)

    def line_for(self, addr: int) -> SourceLine | None:
        """The source line of the instruction at `addr`; None outside every sequence."""
        owner = self._owner(addr)
        if owner is not self:
            return owner.line_for(addr)
        i = bisect.bisect_right(self._line_addrs, addr) - 1
        if i < 0:
            return None
        return self._lines[i][1]

    def line_range(self, addr: int) -> tuple[int, int] | None:
        """[start, end) of the run of line-table rows around `addr` that have its line (the
        addresses a line step runs through without looking); None without line info."""
        owner = self._owner(addr)
        if owner is not self:
            return owner.line_range(addr)
        rows, addrs = self._lines, self._line_addrs
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0 or rows[i][1] is None:
            return None
        line = rows[i][1]
        lo = i
        while lo > 0 and rows[lo - 1][1] == line:
            lo -= 1
        hi = i + 1
        while hi < len(rows) and rows[hi][1] == line:
            hi += 1
        if hi >= len(rows):
            return None  # no row ends it
        return addrs[lo], addrs[hi]

    def address_of_line(self, path: str, line: int) -> int | None:
        """The lowest address of `line` in the file whose path ends like `path`."""
        want = os.path.normpath(path)
        for addr, where in self._lines:
            if where is not None and where.line == line:
                have = os.path.normpath(where.path)
                if have == want or have.endswith("/" + want) or want.endswith("/" + have):
                    return addr
        return None

    def after_prologue(self, sym: Symbol) -> int:
        """Where gdb's `break FUNC` stops: the second line-table row of the function (the
        first is its opening line), or its start without line info."""
        i = bisect.bisect_left(self._line_addrs, sym.addr)
        rows = [
            a for a, where in self._lines[i : i + 3]
            if where is not None and (not sym.size or a < sym.addr + sym.size)
        ]  # fmt: skip
        return rows[1] if len(rows) >= 2 else sym.addr

    def functions_named(self, name: str) -> list[Symbol]:
        """Every function symbol called `name` in this file (not its libraries): a global one
        and each file's own static ones."""
        if self._functions is None:
            self._functions = {}
            for s in self.symbols:
                if s.is_function:
                    self._functions.setdefault(s.name, []).append(s)
        return self._functions.get(name, [])

    def where_defined(self, name: str) -> tuple[Symbols, Symbol] | None:
        """The symbol called `name` and the symbols holding it: the program's own first, then
        each library loaded at the moment, as gdb looks."""
        for owner in (self, *self._libraries):
            sym = owner.by_name.get(name)
            if sym is not None:
                return owner, sym
        return None

    def resolve(self, text: str) -> int | None:
        """An address from a symbol name or a number (0x... or decimal)."""
        text = text.strip().lstrip("*&")
        found = self.where_defined(text)
        if found is not None:
            return found[1].addr
        try:
            return int(text, 0)
        except ValueError:
            return None
