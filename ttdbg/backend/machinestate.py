"""Between a live Machine and a MachineState: capture one, restore one (the machine side of
snapshots, so `ttdbg.snapshots` never needs the backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ttdbg.pages import PAGE, PERM_X
from ttdbg.snapshots.state import MachineState, PageSummary, in_regions

from .dirtypages import DirtyPages
from .machine import Machine
from .pagescan import page_pointers, page_runs

_ZERO_PAGE = bytes(PAGE)


def read_pages(
    machine: Machine, share_with: MachineState | None = None
) -> tuple[tuple[tuple[int, int, int], ...], dict[int, bytes]]:
    """The memory map and every non-zero page of it.

    Pages equal to those of `share_with` reuse its bytes objects, so states kept side by side
    in memory cost only what differs between them.
    """
    regions = tuple(machine.regions())
    dirty = machine.dirty
    if dirty is not None and dirty.knows(regions) and isinstance(dirty.base, MachineState):
        return regions, _since_base(dirty, regions, dirty.base.pages, machine.scanner.nonzero_pages)
    pages: dict[int, bytes] = {}
    old = share_with.pages if share_with is not None else None
    for start, end, _perms in regions:
        pages.update(machine.scanner.nonzero_pages(start, end, old))
    return regions, pages


# Scans [start, end) for its non-zero pages (contents or digests), reusing equal entries
# of the map given: `PageScanner.nonzero_pages` or `nonzero_digests`.
_Scan = Callable[[int, int, dict[int, bytes]], dict[int, bytes]]


def _since_base(
    dirty: DirtyPages,
    regions: tuple[tuple[int, int, int], ...],
    base: dict[int, bytes],
    scan: _Scan,
) -> dict[int, bytes]:
    """`base` (the tracker's base's pages or digests, by address) brought up to now: the
    pages written since re-read (a written page may be zero again), less what is no longer
    mapped or was unmapped since (zero if mapped again)."""
    assert dirty.base is not None
    found = dict(base)
    if dirty.forgotten or dirty.base.regions != regions:
        found = {
            a: p for a, p in found.items() if in_regions(regions, a) and not dirty.in_forgotten(a)
        }
    # Runs of written pages, each read and scanned natively in one call.
    for start, end in _mapped_runs(sorted(dirty.pages()), regions):
        now = scan(start, end, base)
        for addr in range(start, end, PAGE):
            entry = now.get(addr)
            if entry is None:
                found.pop(addr, None)
            else:
                found[addr] = entry
    return found


def _mapped_runs(
    written: list[int], regions: tuple[tuple[int, int, int], ...]
) -> list[tuple[int, int]]:
    """The sorted pages `written` that are still mapped, as runs of consecutive pages."""
    return page_runs([addr for addr in written if in_regions(regions, addr)])


def capture(
    machine: Machine, platform: dict[str, Any], cursor: int, share_with: MachineState | None = None
) -> MachineState:
    regs = machine.register_file.read()
    regs.update(machine.reservation.read())
    regions, pages = read_pages(machine, share_with)
    state = MachineState(
        machine.icount, regs, regions, pages, platform, cursor, machine.halted is not None
    )
    if machine.dirty is not None:
        machine.dirty.reset(state)
    return state


def summarize(
    machine: Machine, platform: dict[str, Any], cursor: int, previous: PageSummary | None = None
) -> PageSummary:
    """The machine's state with its pages as digests, read straight from the emulator: a
    recorder that keeps this between snapshots holds the guest's memory once (the
    emulator's), not a second copy. Digests equal to `previous`'s are its bytes objects.
    With a write tracker whose base is the last summary, only the pages written since are
    read."""
    regs = machine.register_file.read()
    regs.update(machine.reservation.read())
    regions = tuple(machine.regions())
    dirty = machine.dirty
    digests: dict[int, bytes]
    if dirty is not None and dirty.knows(regions) and isinstance(dirty.base, PageSummary):
        digests = _since_base(dirty, regions, dirty.base.digests, machine.scanner.nonzero_digests)
    else:
        old = previous.digests if previous is not None else None
        digests = {}
        for start, end, _perms in regions:
            digests.update(machine.scanner.nonzero_digests(start, end, old))
    summary = PageSummary(
        machine.icount, regs, regions, digests, platform, cursor, machine.halted is not None
    )
    if dirty is not None:
        dirty.reset(summary)
    return summary


def restore_memory(machine: Machine, state: MachineState) -> None:
    """Make the machine's memory exactly the state's: same map, same pages.

    Regions both maps share stay mapped and only the pages that differ are written, which
    keeps moving between nearby states cheap. With a write tracker whose base and `state`
    have the current map (and nothing unmapped since the base), only the pages written since
    the base, and those that differ between it and `state`, are touched.
    """
    dirty = machine.dirty
    regions = tuple(machine.regions())
    if (
        dirty is not None
        and isinstance(dirty.base, MachineState)
        and dirty.base.regions == regions == state.regions
        and not dirty.forgotten
    ):
        _restore_written(machine, dirty, state)
        return
    current = set(regions)
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
    if dirty is not None:
        dirty.reset(state)


def _restore_written(machine: Machine, dirty: DirtyPages, state: MachineState) -> None:
    """Memory equals `dirty.base` but for the pages written since: make it `state`'s."""
    base, want = dirty.base, state.pages
    assert isinstance(base, MachineState)
    # A host write the emulator refused (unmapped) is marked all the same: not a page.
    todo = {addr for addr in dirty.pages() if in_regions(state.regions, addr)}
    if base is not state:
        have = base.pages
        for addr, page in want.items():
            prev = have.get(addr)
            if prev is not page and prev != page:
                todo.add(addr)
        todo.update(addr for addr in have if addr not in want)
    flush = False
    for addr in sorted(todo):
        page = want.get(addr, _ZERO_PAGE)
        if len(page) != PAGE:
            raise ValueError(f"restore of page {addr:#x}: it is not {PAGE} bytes")
        if not flush and dirty.may_hold_code(addr, state.regions):
            flush = dirty.code_changed(addr, machine.read(addr, PAGE), page)
        machine.uc.mem_write(addr, page)
    if flush:
        # Code changed under translated blocks: drop them (and their learned counts).
        machine.uc.ctl_flush_tb()
        machine.counter.forget_blocks()
    dirty.reset(state)


def restore_registers(machine: Machine, state: MachineState) -> None:
    registers = machine.register_file
    slots = state.register_slots.get(registers.layout)
    if slots is None:
        slots = state.register_slots[registers.layout] = registers.encode(state.registers)
    registers.load(slots)
    # An lr/ldxr's reservation decides the next sc/stxr: it travels with the registers.
    machine.reservation.write(state.registers)
    machine.icount = state.icount
