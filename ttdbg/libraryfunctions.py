"""Functions of every shared library a recording maps, found by name as breakpoints on the
library's code (wherever, and whenever, the library is mapped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ttdbg.backend.codebreaks import CodeBreakpoint, MappedLibrary, file_offset, file_vaddrs
from ttdbg.symbols import Symbols


@dataclass(frozen=True)
class LibraryBreak:
    """A breakpoint on `function` (a label: `name` or `name+offset`) of the library at
    `library` (the path the guest opened it by)."""

    code: CodeBreakpoint
    function: str
    library: str


def function_entries(symbols: Symbols, name: str) -> list[int]:
    """Where gdb's `break NAME` stops in one file: after the prologue of each function called
    NAME (a file's own ones included: two files' static functions are two locations), once
    per address (aliases are one)."""
    entries = (symbols.after_prologue(s) for s in symbols.functions_named(name))
    return sorted(set(entries))


class LibraryFunctions:
    """Looks functions up in the libraries of a recording, in the order they were first
    mapped (as the dynamic loader searches them); each library is read once."""

    def __init__(
        self,
        libraries: Callable[[], list[MappedLibrary]],
        content: Callable[[bytes], bytes | None],
    ) -> None:
        self._libraries = libraries
        self._content = content
        self._symbols: dict[bytes, Symbols] = {}

    def _of(self, digest: bytes) -> tuple[bytes, Symbols] | None:
        image = self._content(digest)
        if image is None:
            return None
        symbols = self._symbols.get(digest)
        if symbols is None:
            symbols = self._symbols[digest] = Symbols(image)  # addresses before the load bias
        return image, symbols

    def find(self, name: str) -> LibraryBreak | None:
        """The first of `find_all`, or None."""
        return next(iter(self.find_all(name)), None)

    def find_all(self, name: str) -> list[LibraryBreak]:
        """The locations of gdb's `break NAME` in the libraries: in each library defining a
        function NAME (global, weak or a file's own: gdb takes them all), after its prologue
        as gdb stops, in the order the libraries were first mapped."""
        out: list[LibraryBreak] = []
        for lib in self._libraries():
            found = self._of(lib.digest)
            if found is None:
                continue
            image, symbols = found
            for addr in function_entries(symbols, name):
                offset = file_offset(image, addr)
                bp = CodeBreakpoint(lib.digest, offset) if offset is not None else None
                if bp is not None and all(b.code != bp for b in out):
                    out.append(LibraryBreak(bp, name, lib.path))
        return out

    def at(self, code: CodeBreakpoint) -> LibraryBreak:
        """The breakpoint `code` named by the function it is in (or its file offset)."""
        lib = next((lib for lib in self._libraries() if lib.digest == code.digest), None)
        path = lib.path if lib is not None else code.digest.hex()[:12]
        found = self._of(code.digest)
        label = ""
        if found is not None:
            image, symbols = found
            label = next(
                (
                    symbols.describe(vaddr)
                    for vaddr in file_vaddrs(image, code.offset)
                    if symbols.describe(vaddr)
                ),
                "",
            )
        return LibraryBreak(code, label or f"offset {code.offset:#x}", path)
