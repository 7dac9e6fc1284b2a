"""The native write/call recorder (`ix_*` in `_blockcount.c`) attached to one machine."""

from __future__ import annotations

import ctypes
import zlib
from dataclasses import dataclass

import pyarrow as pa
import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from ttdbg.backend.icount import Block
from ttdbg.backend.machine import KernelWrite, Machine
from ttdbg.backend.nativelib import lib as _lib

from .classify import CALL_ARGS, CALL_PUSH, BlockClassifier

CALL_ARG_NAMES = ("arg0", "arg1", "arg2", "arg3")

NO_RETURN = (1 << 64) - 1  # a call's return icount while its return is not seen


MAX_COLUMNS = 11


class _Table(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_uint64),
        ("cap", ctypes.c_uint64),
        ("ncols", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("cols", ctypes.c_void_p * MAX_COLUMNS),
    ]


class _Block(ctypes.Structure):
    _fields_ = [
        ("addr", ctypes.c_uint64),
        ("size", ctypes.c_uint32),
        ("n", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("popped", ctypes.c_uint32),
        ("insns", ctypes.c_void_p),
        ("wide", ctypes.c_uint64),
    ]


# Column names of the native tables, in their order there.
WRITE_COLUMNS = ("icount", "pc", "addr", "value", "size", "value_hi", "cause")
# The `cause` of a write no instruction made: a syscall's number plus one, or a delivered
# signal's number plus SIGNAL_CAUSE.
SIGNAL_CAUSE = 1 << 32
CALL_COLUMNS = (
    "icount", "pc", "target", "sp", "return_icount", "retval", *CALL_ARG_NAMES, "tid",
)  # fmt: skip
RETURN_COLUMNS = ("icount", "sp", "retval", "tid")
STACK_COLUMNS = ("row", "sp")


class _Recorder(ctypes.Structure):
    _fields_ = [
        ("counter", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("pc_id", ctypes.c_int32),
        ("call_push", ctypes.c_uint32),
        ("mask", ctypes.c_uint64),
        ("used", ctypes.c_uint64),
        ("table", ctypes.c_void_p),
        ("cur", _Block),
        ("cur_base", ctypes.c_uint64),
        ("have_cur", ctypes.c_int32),
        ("unknown_blocks", ctypes.c_int32),
        ("writes", _Table),
        ("calls", _Table),
        ("returns", _Table),
        ("stack", _Table),
        ("oom", ctypes.c_int32),
        ("half", ctypes.c_uint64),
        ("tid", ctypes.c_int64),
        ("parked", ctypes.c_void_p),
        ("parked_tid", ctypes.c_void_p),
        ("nparked", ctypes.c_uint64),
        ("parked_cap", ctypes.c_uint64),
        ("caused", ctypes.c_uint64),
        ("wide_rows", ctypes.c_uint64),
        ("reg_read_batch", ctypes.c_void_p),
        ("call_regs", ctypes.c_int32 * 5),
        ("ret_regs", ctypes.c_int32 * 2),
    ]


_lib.ix_init.argtypes = [
    ctypes.POINTER(_Recorder), ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_int32), ctypes.c_void_p,
]  # fmt: skip
_lib.ix_learn.argtypes = [
    ctypes.POINTER(_Recorder), ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint32,
    ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint32, ctypes.c_uint64,
]  # fmt: skip
_lib.ix_forget.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_flush.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Recorder)]
_lib.ix_free.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_switch.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Recorder), ctypes.c_int64]
_lib.ix_gather_stacks.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_sort_writes.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_add_write.argtypes = [
    ctypes.POINTER(_Recorder), ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
    ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
]  # fmt: skip
_lib.ix_written_pages.argtypes = [ctypes.POINTER(_Recorder), ctypes.c_void_p]
_lib.ix_written_pages.restype = ctypes.c_uint64
_lib.ix_sizeof.restype = ctypes.c_uint64
_lib.ix_release_spares.argtypes = []
assert _lib.ix_sizeof() == ctypes.sizeof(_Recorder), "native index recorder layout mismatch"


def release_spare_memory() -> None:
    """Unmap the columns the last recorder left for the next one (after a build)."""
    _lib.ix_release_spares()


Columns = dict[str, pa.Array]  # uint64 arrays, one per column


@dataclass(frozen=True)
class Rows:
    """What one run recorded, column by column; the arrays wrap the recorder's own memory."""

    writes: Columns  # icount, pc, addr, value, size, value_hi, cause; sorted by address (stable)
    calls: Columns  # icount, pc, target, sp, return_icount, retval, arg0..arg3, tid
    returns: Columns  # icount, sp, retval, tid: returns no call of this run explains
    open_calls: pa.Array  # row numbers of the calls still on a shadow stack at the end
    pages: list[int]  # the pages the writes touch, ascending
    caused: int  # writes with a cause (no instruction made them); the others' cause is 0


PIECE = 8  # a syscall's write is stored in pieces that end on multiples of this


def pieces(addr: int, data: bytes) -> list[tuple[int, int, int]]:
    """A write as (address, size, little-endian value) pieces of at most 8 bytes that do not
    cross a multiple of 8, as the rows of the writes table hold it."""
    out = []
    end, at = addr + len(data), addr
    while at < end:
        stop = min(end, (at // PIECE + 1) * PIECE)
        out.append((at, stop - at, int.from_bytes(data[at - addr : stop - addr], "little")))
        at = stop
    return out


class IndexRecorder:
    """Records every guest write and every call and return of `machine` while attached;
    `tid` is the guest thread running now (tell of every switch with `switching`)."""

    def __init__(self, machine: Machine, tid: int = 0) -> None:
        arch = machine.arch
        self._machine = machine
        self._x = _Recorder()
        reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        reg_read_batch = ctypes.cast(uclib.uc_reg_read_batch, ctypes.c_void_p).value
        err = _lib.ix_init(
            ctypes.byref(self._x), machine.counter.address, reg_read,
            arch.register(arch.pc).uc_id, arch.register(arch.sp).uc_id,
            arch.register(arch.syscall_abi.result).uc_id, CALL_PUSH[arch.name],
            (ctypes.c_int32 * 4)(*(arch.register(r).uc_id for r in CALL_ARGS[arch.name])),
            reg_read_batch,
        )  # fmt: skip
        if err != 0:
            raise MemoryError("cannot allocate the index block table")
        self._x.tid = tid
        self._classifier = BlockClassifier(arch)
        self.blocks: list[tuple[Block, int]] = []  # every block learned, with its code's crc32
        counter = machine.counter
        counter.forget_blocks()  # learn every block again, through `learned`
        machine.uc.ctl_flush_tb()
        counter.listeners.append(self)
        counter.set_index(ctypes.addressof(self._x))
        self._hooks = [
            counter.add_native_hook(unicorn.UC_HOOK_MEM_WRITE, _lib.ix_write_hook, self._ref),
        ]
        machine.kernel_write_listener = self._kernel_write

    def _kernel_write(self, write: KernelWrite) -> None:
        if write.signal is not None:
            cause = SIGNAL_CAUSE + write.signal
        else:
            assert write.nr is not None
            cause = write.nr + 1
        for addr, size, value in pieces(write.addr, write.new):
            row = (write.icount, write.pc, addr, value, size, cause)
            if _lib.ix_add_write(self._ref, *row) != 0:
                raise MemoryError("the index recorder ran out of memory")

    @property
    def _ref(self) -> ctypes._CArgObject:
        return ctypes.byref(self._x)

    def learned(self, block: Block, code: bytes) -> None:
        self.blocks.append((block, zlib.crc32(code)))
        kind, popped = self._classifier.last_kind(code, block.addr, block.insns[-1])
        wide = self._classifier.wide_stores(code, block.addr, block.insns)
        insns = (ctypes.c_uint64 * len(block.insns))(*block.insns)
        n = len(insns)
        if _lib.ix_learn(self._ref, block.addr, block.size, kind, popped, insns, n, wide) != 0:
            raise MemoryError("cannot grow the index block table")

    def forgot(self) -> None:
        _lib.ix_forget(self._ref)

    def flush(self) -> None:
        """Call at a stop: finish a call or return whose block ran to the end just now."""
        _lib.ix_flush(self._machine.uc._uch, self._ref)

    def switching(self, tid: int) -> None:
        """Thread `tid` is about to run (its registers not loaded yet)."""
        if _lib.ix_switch(self._machine.uc._uch, self._ref, tid) != 0:
            raise MemoryError("the index recorder ran out of memory")

    def detach(self) -> None:
        counter = self._machine.counter
        counter.set_index(None)
        self._machine.kernel_write_listener = None
        for handle in self._hooks:
            counter.remove_hook(handle)
        self._hooks = []
        if self in counter.listeners:
            counter.listeners.remove(self)

    def __del__(self) -> None:
        _lib.ix_free(self._ref)

    def _columns(self, table: _Table, names: tuple[str, ...]) -> Columns:
        n = int(table.len)
        return {
            name: pa.Array.from_buffers(
                pa.uint64(), n, [None, pa.foreign_buffer(table.cols[i] or 0, 8 * n, base=self)]
            )
            for i, name in enumerate(names)
        }

    def rows(self) -> Rows:
        """Everything recorded, the writes ordered by address; call once, at the end (the
        arrays share the recorder's memory, which keeps it alive)."""
        x = self._x
        if x.oom:
            raise MemoryError("the index recorder ran out of memory")
        if x.unknown_blocks:
            raise RuntimeError(f"index recorder met {x.unknown_blocks} blocks it was not taught")
        if _lib.ix_sort_writes(self._ref) != 0 or _lib.ix_gather_stacks(self._ref) != 0:
            raise MemoryError("cannot sort the index's writes")
        pages = (ctypes.c_uint64 * _lib.ix_written_pages(self._ref, None))()
        _lib.ix_written_pages(self._ref, pages)
        return Rows(
            writes=self._columns(x.writes, WRITE_COLUMNS),
            calls=self._columns(x.calls, CALL_COLUMNS),
            returns=self._columns(x.returns, RETURN_COLUMNS),
            open_calls=self._columns(x.stack, STACK_COLUMNS)["row"],
            pages=list(pages),
            caused=int(x.caused),
        )
