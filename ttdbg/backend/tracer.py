"""Breakpoints and watchpoints as Unicorn hooks: never written into guest memory.

The tracer is armed while the timeline runs for the user (continue, reverse-continue scans)
and disarmed while it merely seeks. Armed, it either stops at the first hit after a given
icount or records every hit for a later pick.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import unicorn

from .codebreaks import CodeBreakpoint
from .icount import RegisterWatch
from .machine import KernelWrite, Machine


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
    syscall: int | None = None  # a syscall's write: its number
    signal: int | None = None  # a signal frame's write: the signal delivered


# The widest single access (SSE, x87 stores) is 16 bytes: a hook range starting this far below
# the watched range also sees accesses that begin before it and reach into it.
MAX_ACCESS = 16


_MEM_HOOK_TYPES = {
    WatchKind.WRITE: unicorn.UC_HOOK_MEM_WRITE,
    WatchKind.READ: unicorn.UC_HOOK_MEM_READ,
    WatchKind.ACCESS: unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE,
}


class CodeLayout(Protocol):
    """Where code breakpoints are at the moment, and word of when that may change."""

    def locate(self, bp: CodeBreakpoint) -> list[int]:
        """The addresses `bp` applies at now."""
        ...

    def listen(self, changed: Callable[[], None] | None) -> None:
        """Call `changed` (from inside a run) whenever mappings or protections change."""
        ...


@dataclass
class Tracer:
    """Owns the breakpoints, watchpoints and register watch of the timeline on one machine.

    Their hooks exist only while armed: seeks and steps run with none, so a breakpoint in a
    hot loop or a watchpoint costs nothing until the user runs to it. gdb re-inserts every
    breakpoint around every step, so setting and clearing them are plain set operations.
    """

    machine: Machine
    armed: bool = False
    stop_on_hit: bool = False
    after: int = -1  # hits at or before this icount are ignored
    # Replaced whole on each change: another thread may read them while the engine runs.
    _breakpoints: frozenset[int] = frozenset()
    _watchpoints: frozenset[Watchpoint] = frozenset()
    # While searching, only these are armed (the user's stay as they are, unarmed).
    _search: frozenset[Watchpoint] | None = None
    # Whether the search also stops at what syscalls write (`last`: the write that gave the
    # bytes their value); watchpoints, as gdb's, see instructions' accesses only.
    _search_syscalls: bool = False
    _register: str | None = None
    _hooks: list[Any] = field(default_factory=list)
    _reg: RegisterWatch | None = None
    _reg_hook: Any = None
    _hits: list[Hit] = field(default_factory=list)
    _armed_breakpoints: frozenset[int] = frozenset()
    _armed_watchpoints: frozenset[Watchpoint] = frozenset()
    # Breakpoints on a library's code, wherever it is mapped at each moment (with `layout`,
    # which says where: set by the timeline of a Linux program).
    _code_breakpoints: frozenset[CodeBreakpoint] = frozenset()
    layout: CodeLayout | None = None
    _armed_code: frozenset[CodeBreakpoint] = frozenset()
    _bp_hooks: dict[int, Any] = field(default_factory=dict)  # address -> its hook
    _moved: bool = False  # the mappings changed during the run: the code hooks follow

    @property
    def in_effect(self) -> tuple[frozenset[int], frozenset[Watchpoint]]:
        """The breakpoints and watchpoints a run arms now (only the target while searching)."""
        if self._search is not None:
            return frozenset(), self._search
        if self._register is not None:
            return frozenset(), frozenset()
        return self._breakpoints, self._watchpoints

    @property
    def breaking(self) -> bool:
        """A run would arm breakpoints (plain or on code)."""
        return bool(self.in_effect[0]) or bool(self._code_in_effect)

    @property
    def _code_in_effect(self) -> frozenset[CodeBreakpoint]:
        if self.searching or self.layout is None:
            return frozenset()
        return self._code_breakpoints

    @property
    def breakpoints(self) -> frozenset[int]:
        return self._breakpoints

    @property
    def code_breakpoints(self) -> frozenset[CodeBreakpoint]:
        return self._code_breakpoints

    @property
    def watchpoints(self) -> frozenset[Watchpoint]:
        return self._watchpoints

    @property
    def searching(self) -> bool:
        return self._search is not None or self._register is not None

    @property
    def watching(self) -> bool:
        """A run would arm memory watches."""
        return bool(self.in_effect[1])

    def search(
        self, watch: Watchpoint | None, register: str | None, syscalls: bool = False
    ) -> None:
        """Arm only this watchpoint or register watch from now on (both None: the user's
        breakpoints and watchpoints again); `syscalls`: the watchpoint also sees what
        syscalls write."""
        self.watch_register(register)
        self._search = frozenset({watch} if watch else ()) if watch or register else None
        self._search_syscalls = syscalls and watch is not None

    @property
    def watched_register(self) -> str | None:
        return self._register

    @property
    def hits(self) -> list[Hit]:
        """Every hit of the current (or last) armed run, in execution order."""
        return sorted([*self._hits, *self._register_hits()], key=lambda h: h.icount)

    def add_breakpoint(self, addr: int) -> bool:
        if addr in self._breakpoints:
            return False
        self._breakpoints = self._breakpoints | {addr}
        return True

    def remove_breakpoint(self, addr: int) -> bool:
        if addr not in self._breakpoints:
            return False
        self._breakpoints = self._breakpoints - {addr}
        return True

    def add_code_breakpoint(self, bp: CodeBreakpoint) -> bool:
        if bp in self._code_breakpoints:
            return False
        self._code_breakpoints = self._code_breakpoints | {bp}
        return True

    def remove_code_breakpoint(self, bp: CodeBreakpoint) -> bool:
        if bp not in self._code_breakpoints:
            return False
        self._code_breakpoints = self._code_breakpoints - {bp}
        return True

    def add_watchpoint(self, wp: Watchpoint) -> bool:
        if wp in self._watchpoints or wp.length <= 0:
            return False
        self._watchpoints = self._watchpoints | {wp}
        return True

    def remove_watchpoint(self, wp: Watchpoint) -> bool:
        if wp not in self._watchpoints:
            return False
        self._watchpoints = self._watchpoints - {wp}
        return True

    def watch_register(self, name: str | None) -> None:
        """Report every instruction that changes register `name` (None stops watching).

        A native hook on every instruction compares the register with its last value; it
        keeps the first change (when stopping) or the last one (when scanning).
        """
        if name is not None and self.machine.arch.register(name).size > 8:
            raise ValueError(f"{name}: only registers of 8 bytes or less can be watched")
        self._register = name

    # -- arming -----------------------------------------------------------------------------

    def arm(self, stop_on_hit: bool, after: int) -> None:
        """Install the hooks for one run."""
        self.disarm()
        # Hooks run in the order they were added: the step hook must come after these.
        self.machine.counter.drop_step_hooks()
        self.stop_on_hit, self.after = stop_on_hit, after
        self._hits = []
        uc = self.machine.uc
        self._armed_breakpoints, self._armed_watchpoints = self.in_effect
        self._armed_code = self._code_in_effect
        self._moved = False
        self._hook_code(self._breakpoint_addresses())
        if self._armed_code and self.layout is not None:
            self.layout.listen(self._mappings_changed)
        for wp in self._armed_watchpoints:
            begin = max(0, wp.address - MAX_ACCESS + 1)
            end = wp.address + wp.length - 1
            self._hooks.append(uc.hook_add(_MEM_HOOK_TYPES[wp.kind], self._on_mem, wp, begin, end))
        if self._search is not None and self._search_syscalls:
            self.machine.kernel_write_listener = self._on_kernel_write
        if self._register is not None:
            reg = self.machine.arch.register(self._register)
            self._reg = RegisterWatch(
                regid=reg.uc_id, mask=(1 << (8 * reg.size)) - 1, armed=1,
                stop_on_hit=int(stop_on_hit), after=after,
            )  # fmt: skip
            self._reg_hook = self.machine.counter.add_register_watch(self._reg)
        if self._armed_watchpoints or self._register is not None:
            uc.ctl_flush_tb()  # memory and whole-range hooks are compiled into every block
        self.armed = True

    def disarm(self) -> None:
        """Remove the hooks, keeping the hits the run found."""
        if not self.armed:
            return
        self._hits = self.hits
        uc = self.machine.uc
        for handle in self._hooks:
            uc.hook_del(handle)
        self._hooks = []
        if self.machine.kernel_write_listener == self._on_kernel_write:
            self.machine.kernel_write_listener = None
        self._unhook_code(set(self._bp_hooks))
        if self._armed_code and self.layout is not None:
            self.layout.listen(None)
        self._armed_code = frozenset()
        if self._reg_hook is not None:
            self.machine.counter.remove_hook(self._reg_hook)
            self._reg_hook = self._reg = None
        if self._armed_watchpoints or self._register is not None:
            uc.ctl_flush_tb()
        self.armed = False

    def _breakpoint_addresses(self) -> set[int]:
        """Where the armed breakpoints apply now: the plain ones, and the code ones where
        their files are mapped at this moment."""
        addresses = set(self._armed_breakpoints)
        if self.layout is not None:
            for bp in self._armed_code:
                addresses.update(self.layout.locate(bp))
        return addresses

    def _hook_code(self, addresses: set[int]) -> None:
        uc = self.machine.uc
        for addr in sorted(addresses - set(self._bp_hooks)):
            self._bp_hooks[addr] = uc.hook_add(
                unicorn.UC_HOOK_CODE, self._on_code, None, addr, addr
            )
            uc.ctl_remove_cache(addr, addr + 1)  # retranslate so the hook is compiled in

    def _unhook_code(self, addresses: set[int]) -> None:
        uc = self.machine.uc
        for addr in sorted(addresses):
            uc.hook_del(self._bp_hooks.pop(addr))
            uc.ctl_remove_cache(addr, addr + 1)

    def _mappings_changed(self) -> None:
        """From inside a run (a memory syscall): the code breakpoints may apply elsewhere
        now. The run stops after this instruction, so the hooks change between runs."""
        self._moved = True
        self.machine.request_stop()

    def follow_mappings(self) -> None:
        """Between two runs: move the code breakpoints' hooks to where their files are
        mapped now, if the mappings changed in the last run."""
        if not (self.armed and self._moved):
            return
        self._moved = False
        wanted = self._breakpoint_addresses()
        self._unhook_code(set(self._bp_hooks) - wanted)
        if wanted - set(self._bp_hooks):
            # Hooks run in the order they were added: the step hook must come after these.
            self.machine.counter.drop_step_hooks()
            self._hook_code(wanted)

    # -- hooks ------------------------------------------------------------------------------

    def _on_code(self, uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        m = self.machine
        icount = m.icount_at(addr)
        if icount <= self.after:
            return
        self._hits.append(Hit(icount, addr, breakpoint=addr))
        if self.stop_on_hit:
            m.icount = icount
            m.request_stop()

    def _register_hits(self) -> list[Hit]:
        w = self._reg
        if w is None or not w.hits:
            return []
        return [
            Hit(
                int(w.hit_icount), int(w.hit_pc), register=self._register,
                old_value=int(w.hit_old), new_value=int(w.hit_new),
            )
        ]  # fmt: skip

    def _on_kernel_write(self, write: KernelWrite) -> None:
        """A syscall wrote guest memory (the write is done): a hit on each write watch it
        touches, with the watched bytes before and after."""
        if write.icount + 1 <= self.after:
            return
        m = self.machine
        for wp in self._armed_watchpoints:
            span = wp.overlap(write.addr, len(write.new)) if wp.kind != WatchKind.READ else None
            if span is None:
                continue
            new = m.read(wp.address, wp.length)
            old = bytearray(new)
            lo, hi = span
            old[lo - wp.address : hi - wp.address] = write.old[lo - write.addr : hi - write.addr]
            hit = Hit(
                write.icount, write.pc, watch=wp, access_address=lo, old=bytes(old), new=new,
                syscall=write.nr, signal=write.signal,
            )  # fmt: skip
            self._hits.append(hit)
            if self.stop_on_hit:
                m.request_stop()

    def _on_mem(
        self, uc: unicorn.Uc, access: int, addr: int, size: int, value: int, wp: Watchpoint
    ) -> None:
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
