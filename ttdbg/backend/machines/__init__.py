"""Firmware machines by QEMU name: boards, their devices, interrupt paths and virtual clock.

`MACHINES` is the table `ttdbg record --machine NAME` reads: (QEMU name, ELF architecture)
to the module and class of the board. A board module is imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ttdbg.errors import UsageError

from .board import Board
from .clock import DEFAULT_ICOUNT_SHIFT, MAX_ICOUNT_SHIFT

# Bump when device state, timing or trap rules change. 2: synchronous exceptions entered
# (bus errors, alignment, brk/svc/smc/bkpt), the AArch64 reset PSTATE with Z set, mip reads.
# 3: alignment of ldar/stlr and ldrd/strd, FP access traps, checked before they run.
# 4: Cortex-M ldm/stm alignment; the Cortex-M reset xPSR with Z set, as QEMU's.
FIRMWARE_PLATFORM_VERSION = 4

MACHINES: dict[tuple[str, str], str] = {
    ("virt", "riscv64"): "riscv_virt:RiscvVirt",
    ("virt", "aarch64"): "aarch64_virt:Aarch64Virt",
    ("lm3s6965evb", "armv7m"): "stellaris:Lm3s6965evb",
    ("lm3s811evb", "armv7m"): "stellaris:Lm3s811evb",
}


@dataclass(frozen=True)
class MachineSpec:
    """Which machine a firmware recording runs on (stored in its header)."""

    name: str
    arch: str
    cpu: str
    icount_shift: int = DEFAULT_ICOUNT_SHIFT

    def to_header(self) -> dict[str, object]:
        return {"machine": self.name, "cpu": self.cpu, "icount_shift": self.icount_shift}


def machine_names() -> list[str]:
    return sorted({name for name, _arch in MACHINES})


def board_class(name: str, arch: str) -> type[Board]:
    """The board called `name` for an ELF of architecture `arch`; UsageError if none."""
    where = MACHINES.get((name, arch))
    if where is None:
        known = ", ".join(f"{n} ({a})" for n, a in sorted(MACHINES))
        raise UsageError(f"no machine {name!r} for {arch} firmware; machines: {known}")
    module, cls = where.split(":")
    board: type[Board] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return board


def machine_spec(name: str, arch: str, cpu: str | None, icount_shift: int | None) -> MachineSpec:
    """A checked spec from command-line values (None: the board's defaults)."""
    board = board_class(name, arch)
    if cpu is not None and cpu not in board.cpus:
        raise UsageError(f"machine {name} has no cpu {cpu!r}; cpus: {', '.join(board.cpus)}")
    shift = DEFAULT_ICOUNT_SHIFT if icount_shift is None else icount_shift
    if not 0 <= shift <= MAX_ICOUNT_SHIFT:
        raise UsageError(f"--icount-shift must be 0..{MAX_ICOUNT_SHIFT}, not {shift}")
    return MachineSpec(name, arch, cpu or board.cpus[0], shift)
