"""The loader's link_map chain read from guest memory: found through the program headers and
DT_DEBUG as gdbserver finds it, bounded on hostile memory (loops, unmapped names, odd bytes),
and written as a library-list-svr4 document gdb's XML parser accepts."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

from ttdbg.backend.linkmap import (
    AT_PHDR,
    AT_PHNUM,
    DT_DEBUG,
    PT_DYNAMIC,
    PT_PHDR,
    library_list_svr4,
    loaded_objects,
    r_debug_address,
)

BIAS = 0x5555_5555_4000
PHDR, DYNAMIC, R_DEBUG = 0x40, 0x3000, 0x7000_0000
LINKS = [0x7000_1000, 0x7000_2000, 0x7000_3000]


class Memory:
    """Sparse guest memory: reads of bytes never written fail as unmapped memory does."""

    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}

    def write(self, addr: int, data: bytes) -> None:
        for i, b in enumerate(data):
            self.bytes[addr + i] = b

    def read(self, addr: int, size: int) -> bytes:
        if any(a not in self.bytes for a in range(addr, addr + size)):
            raise OSError(f"cannot read {size} bytes at {addr:#x}")
        return bytes(self.bytes[a] for a in range(addr, addr + size))

    def page_of_zeros(self, addr: int) -> None:
        self.write(addr, bytes(0x1000))


def program(memory: Memory, names: list[bytes], loop: bool = False) -> bytes:
    """Program headers, a dynamic section with DT_DEBUG, r_debug and a link_map chain; the
    auxv that points at them."""
    phdr = struct.pack("<IIQQQQQQ", PT_PHDR, 4, PHDR, PHDR, PHDR, 112, 112, 8)
    dyn = struct.pack("<IIQQQQQQ", PT_DYNAMIC, 6, 0x2E00, DYNAMIC, DYNAMIC, 48, 48, 8)
    memory.write(BIAS + PHDR, phdr + dyn)
    memory.write(BIAS + DYNAMIC, struct.pack("<qQqQqQ", 1, 7, DT_DEBUG, R_DEBUG, 0, 0))
    memory.write(R_DEBUG, struct.pack("<iiQQQQ", 1, 0, LINKS[0], 0, 0, 0))
    for i, (lm, name) in enumerate(zip(LINKS, names, strict=True)):
        nxt = LINKS[i + 1] if i + 1 < len(LINKS) else (LINKS[0] if loop else 0)
        memory.page_of_zeros(lm)
        memory.write(lm, struct.pack("<QQQQQ", 0x1000 * i, lm + 0x100, lm + 0x200, nxt, 0))
        memory.write(lm + 0x100, name + b"\0")
    return struct.pack("<QQQQQQ", AT_PHDR, BIAS + PHDR, AT_PHNUM, 2, 0, 0)


def test_the_chain_as_gdbserver_reports_it() -> None:
    memory = Memory()
    names = ["", "/lib/ld.so", '/tmp/a&b<"c>.so']
    auxv = program(memory, [name.encode() for name in names])
    r_debug = r_debug_address(memory.read, auxv)
    assert r_debug == R_DEBUG
    objects = loaded_objects(memory.read, r_debug)
    assert [o.name for o in objects] == names
    doc = ET.fromstring(library_list_svr4(objects, r_debug))
    assert doc.get("main-lm") == hex(LINKS[0])  # the executable, not listed as a library
    libs = [lib.attrib for lib in doc]
    assert libs == [
        {"name": name, "lm": hex(lm), "l_addr": hex(0x1000 * i), "l_ld": hex(lm + 0x200),
         "lmid": hex(R_DEBUG)}
        for i, (lm, name) in enumerate(zip(LINKS, names, strict=True))
        if name
    ]  # fmt: skip


def test_before_the_loader_ran_and_on_hostile_memory() -> None:
    memory = Memory()
    auxv = program(memory, [b"", b"/lib/ld.so", b"/x\x01\x1b[31m.so"], loop=True)
    # A chain that loops back on itself ends; control characters never reach the document.
    objects = loaded_objects(memory.read, R_DEBUG)
    assert len(objects) == 3
    assert objects[2].name == "/x??[31m.so"
    ET.fromstring(library_list_svr4(objects, R_DEBUG))
    # A name pointer into unmapped memory ends the walk there.
    memory.write(LINKS[1] + 8, struct.pack("<Q", 0xDEAD_0000))
    assert [o.name for o in loaded_objects(memory.read, R_DEBUG)] == [""]
    # DT_DEBUG still 0 (the loader has not run yet): no list, an empty document.
    memory.write(BIAS + DYNAMIC + 24, bytes(8))
    assert r_debug_address(memory.read, auxv) == 0
    assert library_list_svr4(loaded_objects(memory.read, 0), 0) == (
        b'<library-list-svr4 version="1.0"/>'
    )
    # No auxv, or program headers in unmapped memory: nothing, and no exception.
    assert r_debug_address(memory.read, b"") == 0
    assert r_debug_address(memory.read, struct.pack("<QQQQ", AT_PHDR, 0x10, AT_PHNUM, 9)) == 0
