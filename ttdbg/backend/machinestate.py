"""Between a live Machine and a MachineState: capture one, restore one (the machine side of
snapshots, so `ttdbg.snapshots` never needs the backend)."""

from __future__ import annotations

from typing import Any

from ttdbg.pages import PERM_X
from ttdbg.snapshots.state import MachineState

from .machine import Machine
from .pagescan import page_pointers


def read_pages(
    machine: Machine, share_with: MachineState | None = None
) -> tuple[tuple[tuple[int, int, int], ...], dict[int, bytes]]:
    """The memory map and every non-zero page of it.

    Pages equal to those of `share_with` reuse its bytes objects, so states kept side by side
    in memory cost only what differs between them.
    """
    regions = tuple(machine.regions())
    pages: dict[int, bytes] = {}
    old = share_with.pages if share_with is not None else None
    for start, end, _perms in regions:
        pages.update(machine.scanner.nonzero_pages(start, end, old))
    return regions, pages


def capture(
    machine: Machine, platform: dict[str, Any], cursor: int, share_with: MachineState | None = None
) -> MachineState:
    regs = machine.register_file.read()
    regs.update(machine.reservation.read())
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
    # An lr/ldxr's reservation decides the next sc/stxr: it travels with the registers.
    machine.reservation.write(state.registers)
    machine.icount = state.icount
