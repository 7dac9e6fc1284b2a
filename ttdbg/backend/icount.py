"""Exact instruction counting at full speed: the native block hook and the blocks it knows."""

from __future__ import annotations

import bisect
import ctypes
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import capstone
import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from .arch.counters import CodePattern
from .nativelib import lib as _lib

UNKNOWN_BLOCK = 1
LIMIT = 2
HIT = 4  # a native watch hook found what it looks for and stopped the emulator
NO_LIMIT = (1 << 64) - 1
# Blocks kept compiled with the per-instruction step hook: a run of single steps (gdb's stepi)
# walks a few blocks over and over, and retranslating a block on every step cost most of it.
MAX_STEP_HOOKS = 16

# capstone's own library, for the native counter to learn blocks with (function objects of
# this handle, so setting their types leaves capstone's bindings alone).
_cs_lib = ctypes.CDLL(capstone._cs._name)
_cs_lib.cs_malloc.restype = ctypes.c_void_p
_cs_lib.cs_malloc.argtypes = [ctypes.c_size_t]
_cs_lib.cs_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAX_PATTERNS = 8


class _Pattern(ctypes.Structure):
    _fields_ = [
        ("value", ctypes.c_uint64),
        ("mask", ctypes.c_uint64),
        ("len", ctypes.c_uint32),
        ("stride", ctypes.c_uint32),
    ]


class _Counter(ctypes.Structure):
    _fields_ = [
        ("icount", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("table", ctypes.c_void_p),
        ("mask", ctypes.c_uint64),
        ("block_addr", ctypes.c_uint64),
        ("block_base", ctypes.c_uint64),
        ("block_insn", ctypes.c_uint64),
        ("index", ctypes.c_void_p),
        ("block_size", ctypes.c_uint32),
        ("stop", ctypes.c_uint32),
        ("miss_addr", ctypes.c_uint64),
        ("miss_size", ctypes.c_uint32),
        ("learn", ctypes.c_uint32),
        ("emu_stop", ctypes.c_void_p),
        ("used", ctypes.c_uint64),
        ("steps", ctypes.c_uint64),
        ("step_limit", ctypes.c_uint64),
        ("mem_read", ctypes.c_void_p),
        ("disasm", ctypes.c_void_p),
        ("cs_handle", ctypes.c_uint64),
        ("cs_insn", ctypes.c_void_p),
        ("code", ctypes.c_void_p),
        ("learned", ctypes.c_uint64),
        ("npatterns", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("patterns", _Pattern * _MAX_PATTERNS),
    ]


class RegisterWatch(ctypes.Structure):
    """The native register-change watch's state (bc_regwatch)."""

    _fields_ = [
        ("counter", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("regid", ctypes.c_int32),
        ("armed", ctypes.c_int32),
        ("mask", ctypes.c_uint64),
        ("after", ctypes.c_int64),
        ("stop_on_hit", ctypes.c_int32),
        ("have_last", ctypes.c_int32),
        ("last", ctypes.c_uint64),
        ("last_pc", ctypes.c_uint64),
        ("hits", ctypes.c_uint64),
        ("hit_icount", ctypes.c_uint64),
        ("hit_pc", ctypes.c_uint64),
        ("hit_old", ctypes.c_uint64),
        ("hit_new", ctypes.c_uint64),
    ]


_lib.bc_init.argtypes = [ctypes.POINTER(_Counter), ctypes.c_void_p]
_lib.bc_insert.argtypes = [
    ctypes.POINTER(_Counter),
    ctypes.c_uint64,
    ctypes.c_uint32,
    ctypes.c_uint32,
]
_lib.bc_lookup.restype = ctypes.c_uint32
_lib.bc_lookup.argtypes = [ctypes.POINTER(_Counter), ctypes.c_uint64, ctypes.c_uint32]
_lib.bc_blocks_at.restype = ctypes.c_uint32
_lib.bc_blocks_at.argtypes = [
    ctypes.POINTER(_Counter),
    ctypes.c_uint64,
    ctypes.POINTER(ctypes.c_uint32),
    ctypes.POINTER(ctypes.c_uint32),
]
_lib.bc_set_learning.argtypes = [
    ctypes.POINTER(_Counter),
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_uint64,
    ctypes.c_void_p,
    ctypes.POINTER(_Pattern),
    ctypes.c_uint32,
]
_lib.bc_clear.argtypes = [ctypes.POINTER(_Counter)]
_lib.bc_free.argtypes = [ctypes.POINTER(_Counter)]
_lib.bc_sizeof.restype = ctypes.c_uint64
assert _lib.bc_sizeof() == ctypes.sizeof(_Counter), "native counter layout mismatch"


@dataclass(frozen=True)
class Block:
    """A translated block: where it starts, its size in bytes and its instruction addresses."""

    addr: int
    size: int
    insns: tuple[int, ...]

    def index(self, pc: int) -> int | None:
        """How many of the block's instructions come before `pc`, or None if `pc` is not one."""
        lo = bisect.bisect_left(self.insns, pc)
        return lo if lo < len(self.insns) and self.insns[lo] == pc else None


class BlockListener(Protocol):
    """Something that keeps per-block data beside the counter's table."""

    def learned(self, block: Block, code: bytes) -> None: ...

    def forgot(self) -> None: ...


class BlockScanner(BlockListener, Protocol):
    """A listener told only of the blocks whose code matches one of its patterns."""

    @property
    def patterns(self) -> Sequence[CodePattern]: ...


# uc_ctl's code for a TLB flush (UC_CTL_IO_WRITE, no arguments), as the binding encodes it.
_TLB_FLUSH = (unicorn.UC_CTL_IO_WRITE << 30) | unicorn.UC_CTL_TLB_FLUSH


def flush_tlb(uc: unicorn.Uc) -> None:
    """Drop the emulator's TLB, by uc_ctl itself: the binding's ctl encodes and checks its
    code in three Python calls, and restores and captures flush every time."""
    err = uclib.uc_ctl(uc._uch, _TLB_FLUSH)
    if err != 0:
        raise unicorn.UcError(err)


class BlockCounter:
    """Counts retired instructions through a native Unicorn block hook.

    The count is exact at every block entry. `limit` makes the hook stop the emulator before a
    block that would carry the count past it. The hook learns unknown blocks itself, unless a
    listener wants to see every block or a scanner's pattern is in the block's code: then it
    stops the emulator, and the block is learned here.
    """

    def __init__(self, uc: unicorn.Uc, cs_arch: int, cs_mode: int) -> None:
        self._uc = uc
        # The native counts the hooks keep; readers on hot paths (the machine's icount is
        # read many times a step) take `counts.icount` itself, without two calls.
        self.counts = _Counter()
        emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        if _lib.bc_init(ctypes.byref(self.counts), emu_stop) != 0:
            raise MemoryError("cannot allocate the block table")
        self._cs = capstone.Cs(cs_arch, cs_mode)
        # The native side's own decoder and scratch instruction (capstone handles are not
        # shared between callers).
        self._native_cs = capstone.Cs(cs_arch, cs_mode)
        self._native_insn = _cs_lib.cs_malloc(self._native_cs.csh)
        if not self._native_insn:
            raise MemoryError("cannot allocate a capstone instruction")
        self._code_buf = ctypes.create_string_buffer(4096)
        # Blocks known with their instruction addresses: those learned here, and those the
        # native side learned once a stop inside one needed them.
        self._by_addr: dict[int, list[Block]] = {}
        # Told of every block learned and of forgetting them all (the index recorder keeps a
        # table of its own in step with this one); while any is here, every block is learned
        # here rather than natively.
        self.listeners: list[BlockListener] = []
        self._scanners: list[BlockScanner] = []
        self._learn_natively(())
        self.generation = 0  # bumped whenever every block is forgotten
        # Address ranges compiled with the step hook, oldest first, and where the last step
        # ended inside a block: (generation, pc, block, index of pc in it).
        self._step_hooks: dict[tuple[int, int], ctypes.c_size_t] = {}
        self._step_end: tuple[int, int, Block, int] | None = None
        # While run_steps runs: the icount in front of which its step hook stops the run.
        # Other instruction hooks may run before the step hook on that instruction, which
        # then does not execute: they must not act there.
        self.steps_end: int | None = None
        self._hook = self.add_native_hook(
            unicorn.UC_HOOK_BLOCK, _lib.bc_block_hook, ctypes.byref(self.counts)
        )
        # Blocks learned as they are translated, from the emulator's count (bc_edge_hook).
        self.add_native_hook(
            unicorn.UC_HOOK_EDGE_GENERATED, _lib.bc_edge_hook, ctypes.byref(self.counts)
        )

    def __del__(self) -> None:
        _lib.bc_free(ctypes.byref(self.counts))
        if getattr(self, "_native_insn", None):
            _cs_lib.cs_free(self._native_insn, 1)

    def _learn_natively(self, patterns: Sequence[CodePattern]) -> None:
        if len(patterns) > _MAX_PATTERNS:
            raise ValueError(f"at most {_MAX_PATTERNS} code patterns")
        table = (_Pattern * max(1, len(patterns)))(
            *(_Pattern(p.value, p.mask, p.length, p.stride) for p in patterns)
        )
        err = _lib.bc_set_learning(
            ctypes.byref(self.counts),
            ctypes.cast(uclib.uc_mem_read, ctypes.c_void_p),
            ctypes.cast(_cs_lib.cs_disasm_iter, ctypes.c_void_p),
            self._native_cs.csh.value,
            self._native_insn,
            table,
            len(patterns),
        )
        if err != 0:
            raise ValueError(f"malformed code patterns: {patterns}")

    def add_scanner(self, scanner: BlockScanner) -> None:
        """Tell `scanner` of every block learned from now on whose code matches one of its
        patterns (and maybe of others)."""
        self._scanners.append(scanner)
        self._learn_natively([p for s in self._scanners for p in s.patterns])

    def prepare(self) -> None:
        """Before starting the emulator: learn blocks natively unless a listener wants to
        see every one."""
        self.counts.learn = not self.listeners

    @property
    def learned_natively(self) -> int:
        """How many blocks the native hook has learned."""
        return int(self.counts.learned)

    @property
    def icount(self) -> int:
        return int(self.counts.icount)

    @icount.setter
    def icount(self, value: int) -> None:
        self.counts.icount = value

    @property
    def limit(self) -> int:
        return int(self.counts.limit)

    @limit.setter
    def limit(self, value: int) -> None:
        self.counts.limit = value

    @property
    def stop(self) -> int:
        return int(self.counts.stop)

    def clear_stop(self) -> None:
        self.counts.stop = 0

    @property
    def stopped_block(self) -> tuple[int, int]:
        """(address, size) of the block the hook stopped in front of."""
        return int(self.counts.miss_addr), int(self.counts.miss_size)

    def block_at(self, pc: int) -> tuple[Block, int] | None:
        """The known block `pc` lies in and how many of its instructions come before `pc`,
        when that is certain: `pc` starts exactly one known block, or the last step ended at
        `pc` inside one."""
        end = self._step_end
        if end is not None and end[1] == pc and end[0] == self.generation:
            return end[2], end[3]
        size, n = ctypes.c_uint32(), ctypes.c_uint32()
        found = _lib.bc_blocks_at(
            ctypes.byref(self.counts), pc, ctypes.byref(size), ctypes.byref(n)
        )
        if found != 1:
            return None
        block = self._block(pc, size.value)
        return None if block is None else (block, 0)

    def run_steps(
        self, pc: int, size: int, steps: int, start_bit: int = 0, block: Block | None = None
    ) -> int:
        """Run at most `steps` instructions from `pc` under a per-instruction hook on the
        `size` bytes from `pc`, or on the whole of `block` (which `pc` lies in).

        The hooked range stays compiled with the hook, so further steps in it cost no
        retranslation; `drop_step_hooks` (before a long run) puts the plain code back.
        Returns how many ran.
        """
        span = (block.addr, block.addr + block.size - 1) if block else (pc, pc + max(size, 1) - 1)
        self._hook_steps(span)
        self.counts.steps = 0
        self.counts.step_limit = steps
        self.counts.limit = NO_LIMIT
        self._step_end = None
        self.steps_end = int(self.counts.icount) + steps
        self.prepare()
        try:
            self._uc.emu_start(pc | start_bit, 0)
        finally:
            self.counts.step_limit = NO_LIMIT  # the hook stays: it must not stop other runs
            self.steps_end = None
        ran = int(self.counts.steps)
        if block is not None:
            index = block.index(pc)
            if index is not None and index + ran < len(block.insns):
                self._step_end = (self.generation, block.insns[index + ran], block, index + ran)
        return ran

    def _hook_steps(self, span: tuple[int, int]) -> None:
        if any(o[0] <= span[0] and span[1] <= o[1] for o in self._step_hooks):
            return  # a hooked range holds it already
        # Two hooks on one instruction would count it twice.
        for other in [o for o in self._step_hooks if o[0] <= span[1] and span[0] <= o[1]]:
            self._unhook_steps(other)
        if len(self._step_hooks) >= MAX_STEP_HOOKS:
            self._unhook_steps(next(iter(self._step_hooks)))
        self._step_hooks[span] = self.add_native_hook(
            unicorn.UC_HOOK_CODE, _lib.bc_insn_hook, ctypes.byref(self.counts), *span
        )
        self._uc.ctl_remove_cache(span[0], span[1] + 1)  # retranslate with the hook in

    def _unhook_steps(self, span: tuple[int, int]) -> None:
        self.remove_hook(self._step_hooks.pop(span))
        self._uc.ctl_remove_cache(span[0], span[1] + 1)

    def drop_step_hooks(self) -> None:
        """Compile the stepped blocks without the step hook again (before a long run or
        before other per-instruction hooks go in, which must keep running first)."""
        for span in list(self._step_hooks):
            self._unhook_steps(span)

    def count_every_instruction(self) -> None:
        """Drop the block hook for the step hook on all code: plain Unicorn counting each
        instruction as its own `count=` does, but readably (`steps`, stopping in front of
        the instruction past `step_limit`). For a baseline without the counter's machinery:
        `icount`, `limit` and blocks mean nothing after this."""
        self.remove_hook(self._hook)
        self.add_native_hook(unicorn.UC_HOOK_CODE, _lib.bc_insn_hook, ctypes.byref(self.counts))
        self.counts.steps = 0
        self.counts.step_limit = NO_LIMIT

    @property
    def steps(self) -> int:
        """Instructions the step hook has let start since `steps` was last set."""
        return int(self.counts.steps)

    @steps.setter
    def steps(self, value: int) -> None:
        self.counts.steps = value

    @property
    def step_limit(self) -> int:
        return int(self.counts.step_limit)

    @step_limit.setter
    def step_limit(self, value: int) -> None:
        self.counts.step_limit = value

    def add_register_watch(self, watch: RegisterWatch) -> ctypes.c_size_t:
        """Install the native register-change hook on every instruction; returns its handle."""
        watch.counter = ctypes.addressof(self.counts)
        watch.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        return self.add_native_hook(unicorn.UC_HOOK_CODE, _lib.bc_reg_hook, ctypes.byref(watch))

    def add_native_hook(
        self, kind: int, function: Any, data: Any, begin: int = 1, end: int = 0
    ) -> ctypes.c_size_t:
        """Install a C function of `_blockcount` as a Unicorn hook on [begin, end] (1, 0: all)."""
        handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self._uc._uch,
            ctypes.byref(handle),
            kind,
            ctypes.cast(function, ctypes.c_void_p),
            data,
            ctypes.c_uint64(begin),
            ctypes.c_uint64(end),
        )
        if err != 0:
            raise unicorn.UcError(err)
        return handle

    def remove_hook(self, handle: ctypes.c_size_t) -> None:
        uclib.uc_hook_del(self._uc._uch, handle)

    def _read_code(self, addr: int, size: int) -> bytes:
        """The block's bytes, read into one reused buffer (no binding overhead per block)."""
        if len(self._code_buf) < size:
            self._code_buf = ctypes.create_string_buffer(max(size, 2 * len(self._code_buf)))
        err = uclib.uc_mem_read(self._uc._uch, ctypes.c_uint64(addr), self._code_buf, size)
        if err != 0:
            raise unicorn.UcError(err)
        return ctypes.string_at(self._code_buf, size)

    def learn_missed_block(self) -> None:
        """Disassemble the block the hook stopped on and teach it to the native table.

        A block whose first instruction capstone cannot decode is learned as that one
        instruction: the emulator ends a block at an instruction it cannot decode either, and
        running it raises the fault the guest deserves (learning nothing would stop in front
        of the block forever).
        """
        addr, size = int(self.counts.miss_addr), int(self.counts.miss_size)
        code = self._read_code(addr, size)
        self._learn(Block(addr, size, self._instructions(addr, code)), code)

    def _instructions(self, addr: int, code: bytes) -> tuple[int, ...]:
        """The instruction addresses of the block `code` at `addr`, counted as the emulator
        counts them (bc_edge_hook learns its count): capstone's, and where its decoding stops
        short of the block's end, one more there. The emulator ends a block at an
        instruction it cannot decode and counts it; running it raises the fault."""
        decoded = list(self._cs.disasm_lite(code, addr))
        insns = tuple(a for a, _s, _m, _o in decoded)
        end = decoded[-1][0] + decoded[-1][1] if decoded else addr
        return (*insns, end) if end < addr + len(code) else insns

    def _learn(self, block: Block, code: bytes) -> None:
        self._by_addr.setdefault(block.addr, []).append(block)
        if _lib.bc_insert(ctypes.byref(self.counts), block.addr, block.size, len(block.insns)):
            raise MemoryError("cannot grow the block table")
        for listener in self.listeners:
            listener.learned(block, code)
        for scanner in self._scanners:
            scanner.learned(block, code)

    def teach(self, blocks: list[tuple[Block, int]]) -> int:
        """Learn blocks known from elsewhere (an index of this recording), each with the
        crc32 of its code; a block whose code here differs, or that is known already, is
        skipped. Saves a stop of the emulator and a disassembly per block when replaying
        code for the first time. Returns how many were learned."""
        taught = 0
        for block, crc in blocks:
            if _lib.bc_lookup(ctypes.byref(self.counts), block.addr, block.size):
                continue
            try:
                code = self._read_code(block.addr, block.size)
            except unicorn.UcError:
                continue
            if zlib.crc32(code) != crc or not block.insns:
                continue
            self._learn(block, code)
            taught += 1
        return taught

    def _block(self, addr: int, size: int) -> Block | None:
        """The known block (addr, size) with its instruction addresses, disassembled now if
        the native side learned it (from the same code: blocks are forgotten when code
        changes)."""
        for block in self._by_addr.get(addr, ()):
            if block.size == size:
                return block
        n = _lib.bc_lookup(ctypes.byref(self.counts), addr, size)
        if not n:
            return None
        insns = self._instructions(addr, self._read_code(addr, size))
        if len(insns) != n:
            return None  # not the code the count was taken from
        block = Block(addr, size, insns)
        self._by_addr.setdefault(addr, []).append(block)
        return block

    def icount_at(self, pc: int) -> int:
        """The icount *before* the instruction at `pc`, for a stop inside the current block."""
        block = self._block(int(self.counts.block_addr), int(self.counts.block_size))
        index = None if block is None else block.index(pc)
        if index is None:
            return int(self.counts.icount)
        return int(self.counts.block_base) + index

    def forget_blocks(self) -> None:
        """Drop every learned block (after guest code changes under the same addresses)."""
        _lib.bc_clear(ctypes.byref(self.counts))
        self._by_addr.clear()
        self.generation += 1
        for listener in self.listeners:
            listener.forgot()
        for scanner in self._scanners:
            scanner.forgot()

    def set_index(self, recorder: int | None) -> None:
        """Tell the native index recorder at this address of every block entered (None: no
        one). The block hook without an index recorder does not even check for one: the
        hook is swapped, and every translated block with it."""
        if (recorder is None) != (self.counts.index is None):
            self.remove_hook(self._hook)
            function = _lib.bc_block_hook if recorder is None else _lib.bc_block_hook_indexed
            self._hook = self.add_native_hook(
                unicorn.UC_HOOK_BLOCK, function, ctypes.byref(self.counts)
            )
            self._uc.ctl_flush_tb()
        self.counts.index = recorder

    @property
    def address(self) -> int:
        """Where the native counter lives, for native hooks that read the count."""
        return ctypes.addressof(self.counts)
