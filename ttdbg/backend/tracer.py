"""Breakpoints and watchpoints as Unicorn hooks: never written into guest memory.

The tracer is armed while the timeline runs for the user (continue, reverse-continue scans)
and disarmed while it merely seeks. Armed, it either stops at the first hit after a given
icount or records every hit for a later pick.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import unicorn

from .icount import RegisterWatch
from .machine import Machine


class WatchKind(enum.Enum):
    WRITE = "write"
    READ = "read"
    ACCESS = "access"


@dataclass(frozen=True)
class Watchpoint:
    kind: WatchKind
    address: int
    length: int

    def overlap(self, addr: int, size: int) -> tuple[int, int] | None:
        lo, hi = max(addr, self.address), min(addr + size, self.address + self.length)
        return (lo, hi) if lo < hi else None


@dataclass(frozen=True)
class Hit:
    """One breakpoint or watchpoint hit seen while running.

    `icount` is the position of the instruction (before it executes); watch hits also carry
    the watched bytes before and after the access.
    """

    icount: int
    pc: int
    breakpoint: int | None = None
    watch: Watchpoint | None = None
    access_address: int = 0
    old: bytes = b""
    new: bytes = b""
    register: str | None = None
    old_value: int = 0
    new_value: int = 0


# The widest single access (SSE, x87 stores) is 16 bytes: a hook range starting this far below
# the watched range also sees accesses that begin before it and reach into it.
MAX_ACCESS = 16


@dataclass
class Tracer:
    """Owns the hooks for the timeline's breakpoints and watchpoints on one machine."""

    machine: Machine
    armed: bool = False
    stop_on_hit: bool = False
    after: int = -1  # hits at or before this icount are ignored
    _bp_hooks: dict[int, Any] = field(default_factory=dict)
    _bp_active: set[int] = field(default_factory=set)
    _wp_hooks: dict[Watchpoint, Any] = field(default_factory=dict)
    _reg_hook: Any = None
    _reg_name: str = ""
    _reg: RegisterWatch | None = None
    _hits: list[Hit] = field(default_factory=list)

    @property
    def breakpoints(self) -> set[int]:
        return set(self._bp_active)

    @property
    def watchpoints(self) -> set[Watchpoint]:
        return set(self._wp_hooks)

    @property
    def hits(self) -> list[Hit]:
        """Every hit of this armed run, in execution order."""
        return sorted([*self._hits, *self._register_hits()], key=lambda h: h.icount)

    def arm(self, stop_on_hit: bool, after: int) -> None:
        self.purge()
        self.armed, self.stop_on_hit, self.after = True, stop_on_hit, after
        self._hits = []
        if self._reg is not None:
            self._reg.armed, self._reg.stop_on_hit, self._reg.after = 1, int(stop_on_hit), after
            self._reg.have_last = 0
            self._reg.hits = 0

    def disarm(self) -> None:
        self.armed = False
        if self._reg is not None:
            self._reg.armed = 0

    # -- breakpoints ------------------------------------------------------------------------

    # gdb removes and re-inserts every breakpoint around every step, so insertion and removal
    # only flip membership; the hooks of removed breakpoints go at the next armed run.

    def add_breakpoint(self, addr: int) -> bool:
        if addr in self._bp_active:
            return False
        self._bp_active.add(addr)
        if addr not in self._bp_hooks:
            uc = self.machine.uc
            self._bp_hooks[addr] = uc.hook_add(
                unicorn.UC_HOOK_CODE, self._on_code, None, addr, addr
            )
            uc.ctl_remove_cache(addr, addr + 1)  # retranslate so the hook is compiled in
        return True

    def remove_breakpoint(self, addr: int) -> bool:
        if addr not in self._bp_active:
            return False
        self._bp_active.discard(addr)
        return True

    def purge(self) -> None:
        """Delete the hooks of breakpoints that are no longer set."""
        for addr in [a for a in self._bp_hooks if a not in self._bp_active]:
            self.machine.uc.hook_del(self._bp_hooks.pop(addr))
            self.machine.uc.ctl_remove_cache(addr, addr + 1)

    def _on_code(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        if not self.armed or addr not in self._bp_active:
            return
        m = self.machine
        icount = m.icount_at(addr)
        if icount <= self.after:
            return
        self._hits.append(Hit(icount, addr, breakpoint=addr))
        if self.stop_on_hit:
            m.icount = icount
            m.request_stop()

    # -- register changes -------------------------------------------------------------------

    def watch_register(self, name: str | None) -> None:
        """Report every instruction that changes register `name` (None stops watching).

        A native hook on every instruction compares the register with its last value; it
        keeps the first change (when stopping) or the last one (when scanning).
        """
        if self._reg_hook is not None:
            self.machine.counter.remove_hook(self._reg_hook)
            self._reg_hook = None
        if name is not None:
            reg = self.machine.arch.register(name)
            if reg.size > 8:
                raise ValueError(f"{name}: only registers of 8 bytes or less can be watched")
            self._reg_name = name
            self._reg = RegisterWatch(regid=reg.uc_id, mask=(1 << (8 * reg.size)) - 1)
            self._reg_hook = self.machine.counter.add_register_watch(self._reg)
        self.machine.uc.ctl_flush_tb()

    def _register_hits(self) -> list[Hit]:
        w = self._reg
        if self._reg_hook is None or w is None or not w.hits:
            return []
        return [
            Hit(
                int(w.hit_icount), int(w.hit_pc), register=self._reg_name,
                old_value=int(w.hit_old), new_value=int(w.hit_new),
            )
        ]  # fmt: skip

    # -- watchpoints ------------------------------------------------------------------------

    def add_watchpoint(self, wp: Watchpoint) -> bool:
        if wp in self._wp_hooks or wp.length <= 0:
            return False
        types = {
            WatchKind.WRITE: unicorn.UC_HOOK_MEM_WRITE,
            WatchKind.READ: unicorn.UC_HOOK_MEM_READ,
            WatchKind.ACCESS: unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE,
        }[wp.kind]
        begin = max(0, wp.address - MAX_ACCESS + 1)
        end = wp.address + wp.length - 1
        self._wp_hooks[wp] = self.machine.uc.hook_add(types, self._on_mem, wp, begin, end)
        self._retranslate()
        return True

    def remove_watchpoint(self, wp: Watchpoint) -> bool:
        handle = self._wp_hooks.pop(wp, None)
        if handle is None:
            return False
        self.machine.uc.hook_del(handle)
        self._retranslate()
        return True

    def _retranslate(self) -> None:
        # Memory hooks are compiled into translated blocks: retranslate everything.
        self.machine.uc.ctl_flush_tb()

    def _on_mem(
        self, uc: unicorn.Uc, access: int, addr: int, size: int, value: int, wp: Watchpoint
    ) -> None:
        if not self.armed:
            return
        span = wp.overlap(addr, size)
        if span is None:
            return
        m = self.machine
        pc = m.pc
        icount = m.icount_at(pc)
        if icount + 1 <= self.after:
            return
        old = m.read(wp.address, wp.length)
        new = old
        if access == unicorn.UC_MEM_WRITE:
            data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            buf = bytearray(old)
            lo, hi = span
            buf[lo - wp.address : hi - wp.address] = data[lo - addr : hi - addr]
            new = bytes(buf)
        self._hits.append(Hit(icount, pc, watch=wp, access_address=span[0], old=old, new=new))
        if self.stop_on_hit:
            m.request_stop()
