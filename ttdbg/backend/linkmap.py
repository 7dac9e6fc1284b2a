"""The dynamic loader's list of loaded objects (r_debug and its link_map chain), read from
guest memory at one moment, and the gdb `library-list-svr4` document made from it."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

AT_PHDR, AT_PHNUM = 3, 5
PT_DYNAMIC, PT_PHDR = 2, 6
DT_NULL, DT_DEBUG = 0, 21
_PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr: type, flags, offset, vaddr, paddr, sizes, align
_DYN = struct.Struct("<qQ")  # Elf64_Dyn: tag, value
_WORD = struct.Struct("<Q")
# struct r_debug (64-bit): int r_version, padding, struct link_map *r_map, ...
R_MAP = 8
# struct link_map: l_addr, char *l_name, l_ld, l_next, l_prev
_LINK_MAP = struct.Struct("<QQQQQ")
MAX_OBJECTS = 4096  # a longer chain is a loop or garbage, not a program's libraries
MAX_NAME = 4096  # PATH_MAX
MAX_PHNUM = 256
MAX_DYNAMIC = 4096  # entries of the executable's dynamic section read at most

ReadMemory = Callable[[int, int], bytes]  # raises on unmapped memory


@dataclass(frozen=True)
class LoadedObject:
    """One entry of the loader's link_map chain."""

    lm: int  # the address of its struct link_map
    name: str
    l_addr: int  # its load bias
    l_ld: int  # the address of its dynamic section


def _auxv(auxv: bytes) -> dict[int, int]:
    pairs = struct.iter_unpack("<QQ", auxv[: len(auxv) - len(auxv) % 16])
    return {key: value for key, value in pairs}


def r_debug_address(read: ReadMemory, auxv: bytes) -> int:
    """Where the executable's DT_DEBUG entry points (the loader's r_debug), found as gdbserver
    finds it: the program headers from AT_PHDR, PT_DYNAMIC relocated by PT_PHDR. 0 when the
    loader has not filled it in yet, the program is static, or its memory is unreadable."""
    try:
        return _r_debug_address(read, auxv)
    except OSError:
        return 0


def _r_debug_address(read: ReadMemory, auxv: bytes) -> int:
    aux = _auxv(auxv)
    phdr, phnum = aux.get(AT_PHDR, 0), aux.get(AT_PHNUM, 0)
    if not phdr or not 0 < phnum <= MAX_PHNUM:
        return 0
    raw = read(phdr, phnum * _PHDR.size)
    headers = [_PHDR.unpack_from(raw, i * _PHDR.size) for i in range(phnum)]
    relocation = next((phdr - h[3] for h in headers if h[0] == PT_PHDR), 0)
    dynamic = next((h for h in headers if h[0] == PT_DYNAMIC), None)
    if dynamic is None:
        return 0
    start, count = dynamic[3] + relocation, min(dynamic[5] // _DYN.size, MAX_DYNAMIC)
    raw = read(start, count * _DYN.size)
    for tag, value in _DYN.iter_unpack(raw):
        if tag == DT_NULL:
            break
        if tag == DT_DEBUG:
            return int(value)
    return 0


def _name(read: ReadMemory, addr: int) -> str:
    """A NUL-terminated path in guest memory, read page by page (it may end near unmapped
    memory)."""
    out = bytearray()
    while addr and len(out) < MAX_NAME:
        piece = read(addr, 0x1000 - addr % 0x1000)
        end = piece.find(0)
        if end >= 0:
            out += piece[:end]
            break
        out += piece
        addr += len(piece)
    # Control characters cannot appear in an XML document: the name goes into one.
    return "".join(
        c if c >= " " else "?" for c in out[:MAX_NAME].decode("utf-8", "surrogateescape")
    )


def loaded_objects(read: ReadMemory, r_debug: int) -> list[LoadedObject]:
    """The link_map chain of the r_debug at `r_debug`, the executable first; empty when
    there is none. Unreadable memory ends the walk."""
    if not r_debug:
        return []
    try:
        (lm,) = _WORD.unpack(read(r_debug + R_MAP, _WORD.size))
    except OSError:
        return []
    objects: list[LoadedObject] = []
    seen: set[int] = set()
    while lm and lm not in seen and len(objects) < MAX_OBJECTS:
        seen.add(lm)
        try:
            l_addr, l_name, l_ld, l_next, _prev = _LINK_MAP.unpack(read(lm, _LINK_MAP.size))
            name = _name(read, l_name)
        except OSError:
            break
        objects.append(LoadedObject(lm, name, l_addr, l_ld))
        lm = l_next
    return objects


def library_list_svr4(objects: list[LoadedObject], r_debug: int) -> bytes:
    """gdb's `library-list-svr4` document, as gdbserver writes it: the executable's entry
    (the first) only as `main-lm`, then every object with a name, in the namespace (`lmid`)
    of the r_debug at `r_debug`, the only one ttdbg reads."""
    if not objects:
        return b'<library-list-svr4 version="1.0"/>'
    lines = [f'<library-list-svr4 version="1.0" main-lm="{objects[0].lm:#x}">']
    lines += [
        f'<library name={quoteattr(o.name)} lm="{o.lm:#x}" l_addr="{o.l_addr:#x}" '
        f'l_ld="{o.l_ld:#x}" lmid="{r_debug:#x}"/>'
        for o in objects[1:]
        if o.name
    ]
    lines.append("</library-list-svr4>")
    return "\n".join(lines).encode("utf-8", "surrogateescape")
