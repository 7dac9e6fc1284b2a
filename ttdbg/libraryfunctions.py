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
        """The breakpoint gdb's `break NAME` sets in the first library defining the function
        NAME (after its prologue, as gdb stops), or None."""
        for lib in self._libraries():
            found = self._of(lib.digest)
            if found is None:
                continue
            image, symbols = found
            sym = symbols.by_name.get(name)
            if sym is None or not sym.is_function:
                continue
            offset = file_offset(image, symbols.after_prologue(sym))
            if offset is not None:
                return LibraryBreak(CodeBreakpoint(lib.digest, offset), name, lib.path)
        return None

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
