"""Whole-machine state at one icount: registers, memory map, pages, platform; and its hash."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ttdbg.backend.machine import PERM_X, Machine
from ttdbg.backend.pagescan import page_pointers


@dataclass(frozen=True)
class MachineState:
    """Everything needed to rebuild the guest at `icount`. Absent pages are zero."""

    icount: int
    registers: dict[str, int]
    regions: tuple[tuple[int, int, int], ...]
    pages: dict[int, bytes] = field(repr=False)
    platform: dict[str, Any]
    cursor: int  # events consumed so far
    halted: bool = False
    # Per-region page pointer arrays for fast restores, built on first use.
    restore_plan: dict[tuple[int, int], Any] = field(
        default_factory=dict, compare=False, repr=False
    )


def in_regions(regions: tuple[tuple[int, int, int], ...], addr: int) -> bool:
    """Whether `addr` lies in one of the sorted, non-overlapping `regions`."""
    i = bisect.bisect_right(regions, (addr, 1 << 65, 0)) - 1
    return i >= 0 and regions[i][0] <= addr < regions[i][1]


def read_pages(
    machine: Machine, share_with: MachineState | None = None
) -> tuple[tuple[tuple[int, int, int], ...], dict[int, bytes]]:
    """The memory map and every non-zero page of it.

    Pages equal to those of `share_with` reuse its bytes objects, so states kept side by side
    in memory cost only what differs between them.
    """
    regions = tuple(machine.regions())
    pages: dict[int, bytes] = {}
    for start, end, _perms in regions:
        pages.update(machine.scanner.nonzero_pages(start, end))
    if share_with is not None:
        old = share_with.pages
        for addr, page in pages.items():
            prev = old.get(addr)
            if prev is not None and prev == page:
                pages[addr] = prev
    return regions, pages


def capture(
    machine: Machine, platform: dict[str, Any], cursor: int, share_with: MachineState | None = None
) -> MachineState:
    regs = machine.register_file.read()
    regions, pages = read_pages(machine, share_with)
    return MachineState(
        machine.icount, regs, regions, pages, platform, cursor, machine.halted is not None
    )


def restore_memory(machine: Machine, state: MachineState) -> None:
    """Make the machine's memory exactly the state's: same map, same pages.

    Regions both maps share stay mapped and only the pages that differ are written, which
    keeps moving between nearby states cheap.
    """
    current = set(machine.regions())
    wanted = set(state.regions)
    code_changed = False
    for start, end, perms in current - wanted:
        machine.uc.mem_unmap(start, end - start)
        code_changed |= bool(perms & PERM_X)
    for start, end, perms in sorted(wanted - current):
        machine.uc.mem_map(start, end - start, perms)
        code_changed |= bool(perms & PERM_X)
    for start, end, perms in state.regions:
        ptrs = state.restore_plan.get((start, end))
        if ptrs is None:
            ptrs = state.restore_plan[(start, end)] = page_pointers(start, end, state.pages)
        written = machine.scanner.restore_region(start, end, ptrs)
        code_changed |= bool(written and perms & PERM_X)
    if code_changed:
        # Code changed under translated blocks: drop them (and their learned counts).
        machine.uc.ctl_flush_tb()
        machine.counter.forget_blocks()


def restore_registers(machine: Machine, state: MachineState) -> None:
    machine.register_file.write(state.registers)
    machine.icount = state.icount


class PageDigests:
    """Per-page digests kept across snapshots so the state hash only rehashes changed pages."""

    def __init__(self) -> None:
        self._digests: dict[int, tuple[bytes, bytes]] = {}

    def state_hash(self, state: MachineState) -> str:
        h = hashlib.blake2b(digest_size=16)
        for name in sorted(state.registers):
            h.update(f"{name}={state.registers[name]:x};".encode())
        for start, end, perms in state.regions:
            h.update(f"[{start:x},{end:x},{perms}]".encode())
        fresh: dict[int, tuple[bytes, bytes]] = {}
        for addr in sorted(state.pages):
            page = state.pages[addr]
            known = self._digests.get(addr)
            if known is not None and known[0] == page:
                digest = known[1]
            else:
                digest = hashlib.blake2b(page, digest_size=16).digest()
            fresh[addr] = (page, digest)
            h.update(addr.to_bytes(8, "little") + digest)
        self._digests = fresh
        return h.hexdigest()
