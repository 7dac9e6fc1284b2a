"""The native write/call recorder (`ix_*` in `_blockcount.c`) attached to one machine."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from ttdbg.backend import _blockcount
from ttdbg.backend.icount import Block
from ttdbg.backend.machine import Machine

from .classify import CALL_ARGS, CALL_PUSH, BlockClassifier

_lib = ctypes.CDLL(_blockcount.__file__)
NO_RETURN = (1 << 64) - 1  # a call's return icount while its return is not seen


class _Column(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(ctypes.c_uint64)),
        ("len", ctypes.c_uint64),
        ("cap", ctypes.c_uint64),
    ]


class _Block(ctypes.Structure):
    _fields_ = [
        ("addr", ctypes.c_uint64),
        ("size", ctypes.c_uint32),
        ("n", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("insns", ctypes.c_void_p),
    ]


_COLUMNS = [
    *("w_icount", "w_pc", "w_addr", "w_value", "w_size"),
    *("c_icount", "c_pc", "c_target", "c_sp", "c_ret", "c_retval"),
    *("r_icount", "r_sp", "r_retval", "s_row", "s_sp"),
]


class _Recorder(ctypes.Structure):
    _fields_ = [
        ("counter", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("pc_id", ctypes.c_int32),
        ("sp_id", ctypes.c_int32),
        ("ret_id", ctypes.c_int32),
        ("call_push", ctypes.c_uint32),
        ("mask", ctypes.c_uint64),
        ("used", ctypes.c_uint64),
        ("table", ctypes.c_void_p),
        ("cur", _Block),
        ("cur_base", ctypes.c_uint64),
        ("have_cur", ctypes.c_int32),
        ("unknown_blocks", ctypes.c_int32),
        *((name, _Column) for name in _COLUMNS),
        ("oom", ctypes.c_int32),
        ("arg_ids", ctypes.c_int32 * 4),
        ("c_args", _Column * 4),
    ]


_lib.ix_init.argtypes = [
    ctypes.POINTER(_Recorder), ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_int32),
]  # fmt: skip
_lib.ix_learn.argtypes = [
    ctypes.POINTER(_Recorder), ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint32,
]  # fmt: skip
_lib.ix_forget.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_flush.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Recorder)]
_lib.ix_free.argtypes = [ctypes.POINTER(_Recorder)]
_lib.ix_sizeof.restype = ctypes.c_uint64
assert _lib.ix_sizeof() == ctypes.sizeof(_Recorder), "native index recorder layout mismatch"


def _bytes(col: _Column) -> bytes:
    return ctypes.string_at(col.data, 8 * col.len) if col.len else b""


@dataclass(frozen=True)
class Rows:
    """What one run recorded, column by column (little-endian uint64 arrays as bytes)."""

    writes: dict[str, bytes]  # icount, pc, addr, value, size
    calls: dict[str, bytes]  # icount, pc, target, sp, return_icount, retval, arg0..arg3
    returns: dict[str, bytes]  # icount, sp, retval: returns no call of this run explains
    open_calls: bytes  # row numbers of the calls still on the shadow stack at the end


class IndexRecorder:
    """Records every guest write and every call and return of `machine` while attached."""

    def __init__(self, machine: Machine) -> None:
        arch = machine.arch
        self._machine = machine
        self._x = _Recorder()
        reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        err = _lib.ix_init(
            ctypes.byref(self._x), machine.counter.address, reg_read,
            arch.register(arch.pc).uc_id, arch.register(arch.sp).uc_id,
            arch.register(arch.syscall_abi.result).uc_id, CALL_PUSH[arch.name],
            (ctypes.c_int32 * 4)(*(arch.register(r).uc_id for r in CALL_ARGS[arch.name])),
        )  # fmt: skip
        if err != 0:
            raise MemoryError("cannot allocate the index block table")
        self._classifier = BlockClassifier(arch)
        counter = machine.counter
        counter.forget_blocks()  # learn every block again, through `learned`
        machine.uc.ctl_flush_tb()
        counter.listeners.append(self)
        counter.set_index(ctypes.addressof(self._x))
        self._hooks = [
            counter.add_native_hook(unicorn.UC_HOOK_MEM_WRITE, _lib.ix_write_hook, self._ref),
        ]

    @property
    def _ref(self) -> ctypes._CArgObject:
        return ctypes.byref(self._x)

    def learned(self, block: Block, code: bytes) -> None:
        kind = self._classifier.last_kind(code, block.addr, block.insns[-1])
        insns = (ctypes.c_uint64 * len(block.insns))(*block.insns)
        if _lib.ix_learn(self._ref, block.addr, block.size, kind, insns, len(insns)) != 0:
            raise MemoryError("cannot grow the index block table")

    def forgot(self) -> None:
        _lib.ix_forget(self._ref)

    def flush(self) -> None:
        """Call at a stop: finish a call or return whose block ran to the end just now."""
        _lib.ix_flush(self._machine.uc._uch, self._ref)

    def detach(self) -> None:
        counter = self._machine.counter
        counter.set_index(None)
        for handle in self._hooks:
            counter.remove_hook(handle)
        self._hooks = []
        if self in counter.listeners:
            counter.listeners.remove(self)

    def __del__(self) -> None:
        _lib.ix_free(self._ref)

    def rows(self) -> Rows:
        """Everything recorded so far."""
        x = self._x
        if x.oom:
            raise MemoryError("the index recorder ran out of memory")
        if x.unknown_blocks:
            raise RuntimeError(f"index recorder met {x.unknown_blocks} blocks it was not taught")

        def column(name: str) -> bytes:
            return _bytes(getattr(x, name))

        return Rows(
            writes={n: column(f"w_{n}") for n in ("icount", "pc", "addr", "value", "size")},
            calls={
                "icount": column("c_icount"), "pc": column("c_pc"),
                "target": column("c_target"), "sp": column("c_sp"),
                "return_icount": column("c_ret"), "retval": column("c_retval"),
                **{f"arg{i}": _bytes(x.c_args[i]) for i in range(4)},
            },
            returns={"icount": column("r_icount"), "sp": column("r_sp"),
                     "retval": column("r_retval")},
            open_calls=column("s_row"),
        )  # fmt: skip
