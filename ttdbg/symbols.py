"""Symbols and source lines of the recorded program, read from its ELF image (and DWARF)."""

from __future__ import annotations

import bisect
import io
import os
from dataclasses import dataclass

from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_function: bool = True  # False for data objects (STT_OBJECT)


@dataclass(frozen=True)
class SourceLine:
    path: str  # as the compiler recorded it (joined with the compilation directory)
    line: int


class Symbols:
    """Function and object symbols by address, and the DWARF line table when there is one."""

    def __init__(self, image: bytes, bias: int = 0) -> None:
        self.symbols: list[Symbol] = []
        self._lines: list[tuple[int, SourceLine]] = []
        try:
            elf = ELFFile(io.BytesIO(image))
            self._read_symbols(elf, bias)
            self._read_lines(elf, bias)
        except (ELFError, DWARFError, ValueError, KeyError, AttributeError):
            pass  # a stripped or odd binary: addresses are shown without names
        self.symbols.sort(key=lambda s: s.addr)
        self._addrs = [s.addr for s in self.symbols]
        self._lines.sort(key=lambda e: e[0])
        self._line_addrs = [a for a, _ in self._lines]
        self.by_name = {s.name: s for s in self.symbols}

    def _read_symbols(self, elf: ELFFile, bias: int) -> None:
        for section in elf.iter_sections():
            if not isinstance(section, SymbolTableSection):
                continue
            for sym in section.iter_symbols():
                kind = sym["st_info"]["type"]
                if kind in ("STT_FUNC", "STT_OBJECT") and sym.name and sym["st_value"]:
                    self.symbols.append(
                        Symbol(sym.name, sym["st_value"] + bias, sym["st_size"], kind == "STT_FUNC")
                    )

    def _read_lines(self, elf: ELFFile, bias: int) -> None:
        if not elf.has_dwarf_info():
            return
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
            for entry in program.get_entries():
                state = entry.state
                if state is None or state.end_sequence:
                    continue
                index = state.file if version >= 5 else state.file - 1
                if not 0 <= index < len(files):
                    continue
                fe = files[index]
                name = fe.name.decode(errors="replace")
                dir_index = fe.dir_index if version >= 5 else fe.dir_index - 1
                if 0 <= dir_index < len(dirs) and not name.startswith("/"):
                    name = os.path.join(dirs[dir_index].decode(errors="replace"), name)
                path = os.path.join(base, name)
                self._lines.append((state.address + bias, SourceLine(path, state.line)))

    def lookup(self, addr: int) -> Symbol | None:
        """The symbol containing `addr` (or the closest one below it, for size-0 symbols)."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        sym = self.symbols[i]
        if sym.size and addr >= sym.addr + sym.size:
            return None
        return sym

    def describe(self, addr: int) -> str:
        sym = self.lookup(addr)
        if sym is None:
            return ""
        off = addr - sym.addr
        return f"{sym.name}+{off}" if off else sym.name

    def line_for(self, addr: int) -> SourceLine | None:
        i = bisect.bisect_right(self._line_addrs, addr) - 1
        if i < 0:
            return None
        return self._lines[i][1]

    def resolve(self, text: str) -> int | None:
        """An address from a symbol name or a number (0x... or decimal)."""
        text = text.strip().lstrip("*&")
        if text in self.by_name:
            return self.by_name[text].addr
        try:
            return int(text, 0)
        except ValueError:
            return None
