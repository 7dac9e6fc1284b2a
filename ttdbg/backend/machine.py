"""Unicorn plus memory map plus an exact instruction count: runs exactly N instructions."""

from __future__ import annotations

import ctypes
import enum
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import unicorn
from unicorn.unicorn_py3.unicorn import uc_mem_region, uccallback, uclib

from ttdbg.pages import PAGE, PERM_R, PERM_W, PERM_X

from .arch import Arch, Register
from .counters import CounterReads
from .icount import HIT, LIMIT, UNKNOWN_BLOCK, Block, BlockCounter, flush_tlb
from .pagescan import PageScanner, page_pointers, page_runs
from .reservation import Reservation

if TYPE_CHECKING:
    from .dirtypages import DirtyPages

assert (PERM_R, PERM_W, PERM_X) == (
    unicorn.UC_PROT_READ, unicorn.UC_PROT_WRITE, unicorn.UC_PROT_EXEC
)  # fmt: skip

# Unicorn's uc_mem_region: first byte, last byte, perms (and padding to 8 bytes).
_REGION = struct.Struct("=QQI4x")
assert ctypes.sizeof(uc_mem_region) == _REGION.size


def _unpack_changed(
    old_raw: bytes, old: list[tuple[int, int, int]], raw: bytes
) -> list[tuple[int, int, int]]:
    """Unicorn's region array `raw` as (start, end exclusive, perms), in its order: the
    records it shares with `old_raw` at its front and back taken from `old` (the unpacking of
    `old_raw`), only those between unpacked."""
    size = _REGION.size
    n_old, n = len(old_raw) // size, len(raw) // size
    # The longest common run of whole records at the front, then at the back of what is left
    # (binary searches: each comparison is one memcmp).
    lo, hi = 0, min(n_old, n)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old_raw[: mid * size] == raw[: mid * size]:
            lo = mid
        else:
            hi = mid - 1
    front = lo
    lo, hi = 0, min(n_old, n) - front
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old_raw[len(old_raw) - mid * size :] == raw[len(raw) - mid * size :]:
            lo = mid
        else:
            hi = mid - 1
    back = lo
    middle = raw[front * size : (n - back) * size]
    changed = [(b, e + 1, p) for b, e, p in _REGION.iter_unpack(middle)]
    return [*old[:front], *changed, *old[n_old - back :]]


_ZERO_RUN = 1 << 20  # the most zeros `Machine.zero` writes in one call


class Halt(enum.Enum):
    """Why `Machine.run` returned."""

    COUNT = "count"  # ran the requested number of instructions
    EXITED = "exited"  # the guest ended (exit, fatal signal)
    STOPPED = "stopped"  # a hook asked to stop (breakpoint, watchpoint, end of the log, ...)


@dataclass(frozen=True)
class KernelWrite:
    """Bytes a syscall put into guest memory (read's buffer, fstat's struct, ...), or a signal
    delivery did (the signal frame on the stack)."""

    icount: int  # the syscall instruction; for a signal, the one whose step delivers it
    pc: int  # that instruction's address; for a signal, where the interrupted code goes on
    nr: int | None  # the syscall number; None: a signal frame's write
    addr: int
    old: bytes
    new: bytes
    signal: int | None = None  # the signal delivered, for a signal frame's write


SI_KERNEL = 0x80  # si_code of a signal the kernel sends with no more said
SEGV_MAPERR, SEGV_ACCERR = 1, 2  # nothing mapped there; mapped without that permission
BUS_ADRALN, BUS_ADRERR = 1, 2  # misaligned; past the end of a mapped file
TRAP_BRKPT = 1


@dataclass(frozen=True)
class Fault:
    """A CPU exception the guest caused: the signal Linux would send for it, with its
    siginfo's code and address (the data address of a faulting access, else the pc)."""

    signal: int
    pc: int
    detail: str
    code: int = SI_KERNEL
    addr: int = 0


SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
UNDECODED = -1  # `on_trap`'s number for an instruction the emulator refused to run
# `on_trap`'s numbers for an access no memory answers (firmware: the CPU takes a bus error).
BAD_READ, BAD_WRITE, BAD_FETCH = -2, -3, -4
_TRAPS = {
    unicorn.UC_ERR_INSN_INVALID: UNDECODED,
    unicorn.UC_ERR_READ_UNMAPPED: BAD_READ,
    unicorn.UC_ERR_WRITE_UNMAPPED: BAD_WRITE,
    unicorn.UC_ERR_FETCH_UNMAPPED: BAD_FETCH,
}
_PROTECTION_FAULTS = {
    unicorn.UC_ERR_READ_PROT,
    unicorn.UC_ERR_WRITE_PROT,
    unicorn.UC_ERR_FETCH_PROT,
}

# Emulator errors as the signal Linux sends, its si_code, and what happened; the access
# errors' si_addr is the address accessed (the last one a memory hook saw refused).
_FAULT_SIGNALS: dict[int, tuple[int, int, str]] = {
    unicorn.UC_ERR_READ_UNMAPPED: (SIGSEGV, SEGV_MAPERR, "read from unmapped memory"),
    unicorn.UC_ERR_WRITE_UNMAPPED: (SIGSEGV, SEGV_MAPERR, "write to unmapped memory"),
    unicorn.UC_ERR_FETCH_UNMAPPED: (SIGSEGV, SEGV_MAPERR, "jump to unmapped memory"),
    unicorn.UC_ERR_READ_PROT: (SIGSEGV, SEGV_ACCERR, "read from protected memory"),
    unicorn.UC_ERR_WRITE_PROT: (SIGSEGV, SEGV_ACCERR, "write to protected memory"),
    unicorn.UC_ERR_FETCH_PROT: (SIGSEGV, SEGV_ACCERR, "jump to non-executable memory"),
    unicorn.UC_ERR_READ_UNALIGNED: (SIGBUS, BUS_ADRALN, "unaligned read"),
    unicorn.UC_ERR_WRITE_UNALIGNED: (SIGBUS, BUS_ADRALN, "unaligned write"),
    unicorn.UC_ERR_FETCH_UNALIGNED: (SIGBUS, BUS_ADRALN, "unaligned fetch"),
    unicorn.UC_ERR_INSN_INVALID: (SIGILL, SI_KERNEL, "invalid instruction"),
    unicorn.UC_ERR_EXCEPTION: (SIGILL, SI_KERNEL, "unhandled CPU exception"),
}


class RegisterFile:
    """A fixed list of registers read or written in one Unicorn call (the Python binding
    costs several microseconds per register).

    Each register gets a 16-byte slot: wide enough for XMM, and for x87 registers, whose
    Unicorn layout (64-bit mantissa, 16-bit exponent) read as 10 little-endian bytes is
    exactly the 80-bit value gdb and snapshots use.
    """

    SLOT = 16

    def __init__(self, uc: unicorn.Uc, regs: Sequence[Register]) -> None:
        n = len(regs)
        self._uc = uc
        self._uch = uc._uch
        self._regs = list(regs)
        self._names = [r.name for r in regs]
        self.layout = tuple(self._names)  # what raw slots mean (states keep them by it)
        self._n = n
        self._buf = ctypes.create_string_buffer(self.SLOT * n)
        base = ctypes.addressof(self._buf)
        # Registers reached by encoding go one by one after the batch (their slots stay
        # in the buffer, so raw slots look the same either way).
        self._cp = [(i, r) for i, r in enumerate(regs) if r.cp is not None]
        batch = [i for i, r in enumerate(regs) if r.cp is None]
        self._nbatch = len(batch)
        self._ids = (ctypes.c_int * n)(*(regs[i].uc_id for i in batch))
        self._ptrs = (ctypes.c_void_p * n)(*(base + self.SLOT * i for i in batch))
        # Registers of at most 8 bytes unpack in one struct call (the syscall registers are
        # read at every syscall); wider ones (XMM, x87) go through int.from_bytes.
        narrow = {1: "B15x", 2: "H14x", 4: "I12x", 8: "Q8x"}
        fmt = [narrow.get(r.size) for r in regs]
        self._unpack = (
            struct.Struct("<" + "".join(f for f in fmt if f)).unpack_from if all(fmt) else None
        )
        # Registers of exactly 8 bytes fill their slots' bytes the unpacking reads: no clearing
        # of the buffer before each read (the syscall registers are read at every syscall).
        self._clear = not all(r.size == 8 and r.cp is None for r in regs)
        self._index = {r.name: i for i, r in enumerate(regs)}

    def values(self) -> list[int]:
        """The registers' values, in the order they were given."""
        if self._clear:
            ctypes.memset(self._buf, 0, self.SLOT * self._n)
        err = uclib.uc_reg_read_batch(self._uch, self._ids, self._ptrs, self._nbatch)
        if err != 0:
            raise unicorn.UcError(err)
        if self._cp:
            self._read_cp()
        if self._unpack is not None:
            return list(self._unpack(self._buf))
        raw = self._buf.raw
        return [
            int.from_bytes(raw[self.SLOT * i : self.SLOT * i + r.size], "little")
            for i, r in enumerate(self._regs)
        ]

    def read(self) -> dict[str, int]:
        return dict(zip(self._names, self.values(), strict=True))

    # Raw slots: a thread switch saves and loads every register in one call each, with no
    # per-register Python work; `decode`/`encode` convert for snapshots and gdb.

    def save(self) -> bytes:
        """Every register, as the raw slots."""
        ctypes.memset(self._buf, 0, self.SLOT * self._n)
        err = uclib.uc_reg_read_batch(self._uch, self._ids, self._ptrs, self._nbatch)
        if err != 0:
            raise unicorn.UcError(err)
        if self._cp:
            self._read_cp()
        return self._buf.raw

    def load(self, raw: bytes) -> None:
        """Write every register from raw slots made by `save` or `encode`."""
        ctypes.memmove(self._buf, raw, self.SLOT * self._n)
        err = uclib.uc_reg_write_batch(self._uch, self._ids, self._ptrs, self._nbatch)
        if err != 0:
            raise unicorn.UcError(err)
        if self._cp:
            self._write_cp()

    def _read_cp(self) -> None:
        base = ctypes.addressof(self._buf)
        for i, reg in self._cp:
            value = self._uc.reg_read(reg.uc_id, reg.cp) & ((1 << (8 * reg.size)) - 1)
            ctypes.memmove(base + self.SLOT * i, value.to_bytes(reg.size, "little"), reg.size)

    def _write_cp(self) -> None:
        raw = self._buf.raw
        for i, reg in self._cp:
            value = int.from_bytes(raw[self.SLOT * i : self.SLOT * i + reg.size], "little")
            assert reg.cp is not None
            self._uc.reg_write(reg.uc_id, (*reg.cp, value))

    def decode(self, raw: bytes) -> dict[str, int]:
        return {
            r.name: int.from_bytes(raw[self.SLOT * i : self.SLOT * i + r.size], "little")
            for i, r in enumerate(self._regs)
        }

    def encode(self, values: dict[str, int]) -> bytes:
        return b"".join(
            (values[r.name] & ((1 << (8 * r.size)) - 1)).to_bytes(self.SLOT, "little")
            for r in self._regs
        )

    def value(self, raw: bytes, name: str) -> int:
        """Register `name`'s value in raw slots."""
        i = self._index[name]
        return int.from_bytes(raw[self.SLOT * i : self.SLOT * i + self._regs[i].size], "little")

    def replace(self, raw: bytes, name: str, value: int) -> bytes:
        """`raw` with register `name` set to `value`."""
        i = self._index[name]
        reg = self._regs[i]
        slot = (value & ((1 << (8 * reg.size)) - 1)).to_bytes(self.SLOT, "little")
        return raw[: self.SLOT * i] + slot + raw[self.SLOT * (i + 1) :]

    def write(self, values: dict[str, int]) -> None:
        ctypes.memset(self._buf, 0, self.SLOT * self._n)
        for i, r in enumerate(self._regs):
            data = values[r.name].to_bytes(r.size, "little")
            ctypes.memmove(ctypes.addressof(self._buf) + self.SLOT * i, data, r.size)
        err = uclib.uc_reg_write_batch(self._uch, self._ids, self._ptrs, self._nbatch)
        if err != 0:
            raise unicorn.UcError(err)
        if self._cp:
            self._write_cp()


class RegisterWriter:
    """Writes one integer register in one Unicorn call, without the binding's overhead."""

    def __init__(self, uc: unicorn.Uc, reg: Register) -> None:
        self._uch = uc._uch
        self._id = reg.uc_id
        self._val = ctypes.c_uint64()
        self._ref = ctypes.byref(self._val)

    def write(self, value: int) -> None:
        self._val.value = value & 0xFFFFFFFFFFFFFFFF
        err = uclib.uc_reg_write(self._uch, self._id, self._ref)
        if err != 0:
            raise unicorn.UcError(err)


class RegisterReader:
    """Reads one integer register in one Unicorn call, without the binding's overhead (the
    pc is read at every block the counter learns)."""

    def __init__(self, uc: unicorn.Uc, reg: Register, size: int = 8) -> None:
        self._uch = uc._uch
        self._id = reg.uc_id
        self._val = ctypes.c_uint64()
        self._ref = ctypes.byref(self._val)
        self._mask = (1 << (8 * size)) - 1

    def read(self) -> int:
        err = uclib.uc_reg_read(self._uch, self._id, self._ref)
        if err != 0:
            raise unicorn.UcError(err)
        return int(self._val.value) & self._mask


SyscallHandler = Callable[["Machine"], None]
FaultHandler = Callable[["Machine", Fault], None]
UnmappedHandler = Callable[[int, int], bool]


class Machine:
    """One guest CPU and its memory, counting every retired instruction exactly."""

    def __init__(self, arch: Arch) -> None:
        self.arch = arch
        self.uc = unicorn.Uc(arch.uc_arch, arch.uc_mode)
        self.uc.ctl_set_cpu_model(arch.cpu_model)
        self.counter = BlockCounter(self.uc, arch.cs_arch, arch.cs_mode)
        self.counter_reads = CounterReads(self)
        self.scanner = PageScanner(self.uc)
        self.register_file = RegisterFile(self.uc, arch.registers)
        self.reservation = Reservation(self.uc, arch)
        self._regs = {r.name: r for r in arch.registers}
        self._pc = RegisterReader(self.uc, self._regs[arch.pc])
        # Plain integer registers of at most 64 bits in one Unicorn call each (interrupt
        # entry reads and writes several per interrupt; the binding's path costs ~10 calls).
        plain = [r for r in arch.registers if r.kind == "int" and r.cp is None and r.size <= 8]
        self._readers = {r.name: RegisterReader(self.uc, r, r.size) for r in plain}
        self._writers = {r.name: RegisterWriter(self.uc, r) for r in plain}
        self._pc_writer = RegisterWriter(self.uc, self._regs[arch.pc])
        self._word = ctypes.c_uint32()
        self._word_ptr = ctypes.cast(ctypes.pointer(self._word), ctypes.POINTER(ctypes.c_char))
        self.on_syscall: SyscallHandler = lambda m: None
        self.on_fault: FaultHandler = lambda m, f: None
        # Called with (address, size) on an access to unmapped memory; True means it is
        # mapped now and the access should go ahead (the stack growing, for one).
        self.on_unmapped: UnmappedHandler = lambda addr, size: False
        # The signal an access refused by page protection raises instead of SIGSEGV (SIGBUS
        # past the end of a mapped file), or None.
        self.on_protected: Callable[[int], int | None] = lambda addr: None
        self._fault_signal: tuple[int, int, str] | None = None  # (signal, si_code, detail)
        self._fault_addr = 0  # the last access a memory hook saw refused: a fault's si_addr
        # Firmware: a synchronous exception (ecall, svc, an undefined instruction) the
        # platform enters the guest's own handler for, as the CPU would. Called with the
        # emulator's exception number (UNDECODED: an instruction it refused); True: entered.
        self.on_trap: Callable[[int], bool] = lambda intno: False
        # Asynchronous events (a signal from outside): the icount of the next one, and what
        # delivers it. A run stops there; the next run delivers it before anything else.
        self.next_async: Callable[[], int | None] = lambda: None
        self.on_async: Callable[[int], None] = lambda icount: None
        # Called when a run ends with the guest still going: the platform takes what is due
        # between instructions there (a thread switch), so every state at an icount is the
        # same however the run got there.
        self.at_rest: Callable[[], None] = lambda: None
        # Registers the emulator does not hold, read through this table by `reg` and
        # `registers` (firmware: RISC-V mip, which the board's interrupt lines drive).
        self.outside_registers: dict[str, Callable[[], int]] = {}
        # Device memory (firmware machines): mapped, but not memory snapshots hold.
        self.mmio_regions: tuple[tuple[int, int], ...] = ()
        # The last map `regions` built, what it was built from, and Unicorn's array as
        # unpacked (in Unicorn's order).
        self._regions_key: tuple[bytes, tuple[tuple[int, int], ...]] = (b"", ())
        self._regions: list[tuple[int, int, int]] = []
        self._unpacked: list[tuple[int, int, int]] = []
        # Pages written since a known state (fixed memory maps only), or None: every restore
        # and capture scans all of memory.
        self.dirty: DirtyPages | None = None
        # Whether the asynchronous event due at the given icount may be taken at the current
        # one instead, a block boundary just before it (the recorder's own quantum end):
        # finishing the block instruction by instruction costs a retranslation.
        self.take_early: Callable[[int], bool] = lambda due: False
        # The syscall whose handler runs now, as (icount, pc, number), or None (the platform
        # says); while someone listens, every write it makes into guest memory is told.
        self.syscall_running: Callable[[], tuple[int, int, int] | None] = lambda: None
        # The signal whose frame is being written now, as (icount, pc, signal) as KernelWrite
        # holds them, or None (the platform says).
        self.signal_delivering: Callable[[], tuple[int, int, int] | None] = lambda: None
        self.kernel_write_listener: Callable[[KernelWrite], None] | None = None
        # Called whenever the emulator returns, before anything else looks at the state (a
        # native hook may have acted for the platform while it ran).
        self.after_emulation: Callable[[], None] = lambda: None
        self._stop_requested = False
        self._target = 0  # the icount the current run goes to
        self._halted: Halt | None = None
        self._install_hooks()

    # -- registers --------------------------------------------------------------------------

    def reg(self, name: str) -> int:
        """The value of register `name` as an unsigned integer (KeyError: no such register)."""
        fast = self._readers.get(name)
        if fast is not None:
            return fast.read()
        reg = self._regs.get(name)
        if reg is None:
            return self.outside_registers[name]()
        return self.read_register(reg)

    def registers(self) -> dict[str, int]:
        """Every register by name: the emulator's, then those kept outside it."""
        regs = self.register_file.read()
        for name, read in self.outside_registers.items():
            regs[name] = read()
        return regs

    def set_reg(self, name: str, value: int) -> None:
        fast = self._writers.get(name)
        if fast is not None:
            fast.write(value)
            return
        self.write_register(self._regs[name], value)

    def read_register(self, reg: Register) -> int:
        value = (
            self.uc.reg_read(reg.uc_id) if reg.cp is None else self.uc.reg_read(reg.uc_id, reg.cp)
        )
        if reg.kind == "x87":
            mantissa, exponent = value
            return int(mantissa) | (int(exponent) << 64)
        return int(value) & ((1 << (8 * reg.size)) - 1)

    def write_register(self, reg: Register, value: int) -> None:
        if reg.kind == "x87":
            self.uc.reg_write(reg.uc_id, (value & ((1 << 64) - 1), value >> 64))
        elif reg.cp is not None:
            self.uc.reg_write(reg.uc_id, (*reg.cp, value))
        else:
            self.uc.reg_write(reg.uc_id, value)

    @property
    def pc(self) -> int:
        return self._pc.read()

    def set_pc(self, value: int) -> None:
        self._pc_writer.write(value)

    # -- memory -----------------------------------------------------------------------------

    def read(self, addr: int, size: int) -> bytes:
        # Into a bytearray Unicorn fills: half the binding's cost (a zeroed ctypes buffer, a
        # bytearray of it, then bytes of that), which counts where a snapshot compares every
        # library page it is not sure of.
        out = bytearray(size)
        err = uclib.uc_mem_read(self.uc._uch, addr, (ctypes.c_char * size).from_buffer(out), size)
        if err != 0:
            raise unicorn.UcError(err)
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        if self.dirty is not None:
            self.dirty.mark(addr, len(data))
        listener = self.kernel_write_listener
        if listener is None:
            self.uc.mem_write(addr, data)
            return
        syscall, frame = self.syscall_running(), None
        if syscall is None:
            frame = self.signal_delivering()
            if frame is None:
                self.uc.mem_write(addr, data)
                return
        old = self.read(addr, len(data))  # fails where the write would, before it
        self.uc.mem_write(addr, data)
        if syscall is not None:
            listener(KernelWrite(*syscall, addr, old, bytes(data)))
        else:
            assert frame is not None
            icount, pc, sig = frame
            listener(KernelWrite(icount, pc, None, addr, old, bytes(data), sig))

    def zero(self, addr: int, length: int) -> None:
        """Make the whole pages [addr, addr + length) read as zero, writing only those that
        are not zero yet (glibc gives back a thread's 8 MiB stack, mostly never touched, when
        the thread ends). A kernel-write listener and a write tracker see writes of zeros
        over the pages that were not zero, as Linux drops those pages for zero-fill ones: a
        page that was zero changes no byte a program can read, and is not a write."""
        if self.kernel_write_listener is not None or self.dirty is not None:
            nonzero = [
                page
                for lo, hi in self._maybe_nonzero_runs(addr, addr + length)
                for page in self.scanner.nonzero_addrs(lo, hi)
            ]
            # A run of pages in one write (one mark, one Unicorn call), in pieces of at most
            # _ZERO_RUN so a large run does not allocate its size in zeros.
            for lo, hi in page_runs(nonzero):
                for at in range(lo, hi, _ZERO_RUN):
                    self.write(at, bytes(min(_ZERO_RUN, hi - at)))
            return
        self.scanner.restore_region(addr, addr + length, page_pointers(addr, addr + length, {}))

    def nonzero_pages(self, start: int, end: int) -> dict[int, bytes]:
        """The non-zero pages of the mapped range [start, end), by address. With a write
        tracker only the pages it says may be non-zero are read (a fresh thread stack of
        8 MiB is mostly never written)."""
        found: dict[int, bytes] = {}
        for lo, hi in self._maybe_nonzero_runs(start, end):
            found.update(self.scanner.nonzero_pages(lo, hi))
        return found

    def _maybe_nonzero_runs(self, start: int, end: int) -> list[tuple[int, int]]:
        """The runs of [start, end) that may hold a non-zero page: the write tracker's pages
        that may not be zero, or without one (or if it does not know) all of it."""
        maybe = self.dirty.maybe_nonzero(start, end) if self.dirty is not None else None
        return [(start, end)] if maybe is None else page_runs(maybe)

    def read_u32(self, addr: int) -> int:
        """The 32-bit little-endian word at `addr` in one Unicorn call (a futex word is read
        at every futex wait)."""
        err = uclib.uc_mem_read(self.uc._uch, addr, self._word_ptr, 4)
        if err != 0:
            raise unicorn.UcError(err)
        return int(self._word.value)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string from guest memory, reading page by page."""
        out = bytearray()
        while len(out) < limit:
            chunk = self.read(addr, PAGE - (addr % PAGE))
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += len(chunk)
        return bytes(out[:limit])

    def regions(self) -> list[tuple[int, int, int]]:
        """Mapped regions as (start, end exclusive, perms), sorted by address."""
        # Unicorn's array unpacked in one call (the binding converts each field of each
        # region through getattr: most of a reverse step's restore went there).
        found = ctypes.POINTER(uc_mem_region)()
        count = ctypes.c_uint32()
        err = uclib.uc_mem_regions(self.uc._uch, ctypes.byref(found), ctypes.byref(count))
        if err != 0:
            raise unicorn.UcError(err)
        try:
            raw = ctypes.string_at(found, _REGION.size * count.value) if count.value else b""
        finally:
            uclib.uc_free(found)
        # The map changes far less often than it is asked for (every memory syscall asks a
        # few times), and then in a few places: the same bytes from Unicorn are the same
        # list, and only the regions whose bytes changed are unpacked anew (with hundreds of
        # mappings, building a tuple per region was most of a memory syscall's own time).
        key = (raw, self.mmio_regions)
        if key != self._regions_key:
            self._unpacked = _unpack_changed(self._regions_key[0], self._unpacked, raw)
            regions = sorted(self._unpacked)
            if self.mmio_regions:
                regions = [r for r in regions if (r[0], r[1]) not in self.mmio_regions]
            self._regions_key, self._regions = key, regions
        return list(self._regions)  # (the caller's own: it may change it)

    def is_mapped(self, addr: int, size: int) -> bool:
        end = addr + size
        for start, stop, _perms in self.regions():
            if start <= addr < stop:
                if end <= stop:
                    return True
                addr = stop
        return False

    # -- execution --------------------------------------------------------------------------

    @property
    def icount(self) -> int:
        return self.counter.counts.icount

    @icount.setter
    def icount(self, value: int) -> None:
        self.counter.icount = value

    @property
    def halted(self) -> Halt | None:
        """EXITED once the guest has ended; None while it can still run."""
        return self._halted

    def set_halted(self, halted: bool) -> None:
        """After a state restore: whether the guest has already ended at this position."""
        self._halted = Halt.EXITED if halted else None

    def halt(self) -> None:
        """Mark the guest ended (exit or fatal signal) and stop the emulator."""
        self._halted = Halt.EXITED
        self.uc.emu_stop()

    def request_stop(self) -> None:
        """From inside a hook: stop the current `run` after this instruction."""
        self._stop_requested = True
        self.uc.emu_stop()

    def icount_at(self, pc: int) -> int:
        """From inside a hook: the icount before the instruction at `pc`."""
        return self.counter.icount_at(pc)

    def run(self, n: int, exact: bool = True) -> Halt:
        """Run exactly `n` instructions, or fewer if the guest ends or a hook stops the run.
        Not `exact`: the run may also end at the last block boundary before its goal, when
        it got anywhere (finishing the block part of the way costs a step hook over it, and
        a caller that only wants control back now and then does not need that)."""
        start = self.icount
        target = start + n
        self._target = target
        self._stop_requested = False
        # A step of a few instructions inside a known block runs them under the step hook
        # at once, without an emulator start that would only stop in front of the block
        # (if the block turns out different, the next round goes the long way).
        shortcut = n < 64
        if not shortcut:
            self.counter.drop_step_hooks()  # stepped blocks run at full speed again
        while self._halted is None and not self._stop_requested and self.icount < target:
            due = self.next_async()
            if due is not None and due <= self.icount:
                self.on_async(self.icount)
                continue
            goal = target if due is None else min(target, due)
            self.counter.clear_stop()
            self.counter.limit = goal
            if shortcut:
                shortcut = False
                # (Only when no asynchronous event is due first: a recording may move that.)
                if goal == target and self._step_in_block(goal - self.icount):
                    continue
            self._emulate()
            self.counter_reads.settle(self.icount)
            if self.counter.stop == UNKNOWN_BLOCK:
                self.counter.learn_missed_block()
            elif self.counter.stop == LIMIT:
                # The limit may be lower than `goal`: a syscall made an event due sooner.
                limit = self.counter.limit
                if limit < target and limit != self.icount and self.take_early(limit):
                    continue
                if limit == target and not exact and self.icount > start:
                    break
                if limit > self.icount:
                    self._finish_exactly(limit - self.icount)
                self.counter_reads.settle(self.icount)
            elif self.counter.stop == HIT:
                self._stop_requested = True
        if self._halted is None:
            self.at_rest()
        if self._halted is not None:
            return Halt.EXITED
        return Halt.STOPPED if self._stop_requested else Halt.COUNT

    def _step_in_block(self, count: int) -> bool:
        """Run `count` instructions at once under the step hook when they, and the one after
        them, lie in the known block at pc; False (nothing ran) otherwise."""
        found = self.counter.block_at(self.pc)
        if found is None or found[1] + count >= len(found[0].insns):
            return False
        start = self.icount
        self._finish_exactly(count, found[0])
        if self.counter.stop == UNKNOWN_BLOCK and self.icount == start:
            # Entered mid-block, where the emulator's block is new to the counter: nothing
            # ran; now that it is known, step again. (An instruction a platform hook retires,
            # as a wfi, also ends the emulator's block: then the run goes on from the loop,
            # where an event due right after it comes first.)
            self.counter.learn_missed_block()
            self._finish_exactly(count, found[0])
        self.counter_reads.settle(self.icount)
        return True

    @property
    def goal(self) -> int:
        """The icount the current run goes to."""
        return self._target

    def rearm(self) -> None:
        """From inside a hook that changed what runs next (a thread switch): stop the run
        at its goal or at the next asynchronous event, whichever comes first, also when that
        is later than the limit set before."""
        due = self.next_async()
        self.counter.limit = self._target if due is None else min(self._target, due)

    def deliver_due_async(self) -> None:
        """Deliver an asynchronous event due at the current icount now (at the very end of a
        recording, where no later run would)."""
        due = self.next_async()
        if due is not None and due <= self.icount and self._halted is None:
            self.on_async(self.icount)

    def _finish_exactly(self, count: int, block: Block | None = None) -> None:
        """Run the last `count` instructions, which all lie inside the block at pc (or inside
        `block`, which pc lies in)."""
        start = self.icount
        pc = self.pc
        _addr, size = self.counter.stopped_block
        self.counter.clear_stop()
        try:
            try:
                ran = self.counter.run_steps(pc, size, count, self.arch.start_bit, block)
            finally:
                self.after_emulation()
        except unicorn.UcError as err:
            self._deliver_fault(err.errno)
            return
        if self.counter.stop == HIT:
            self._stop_requested = True  # the hook set the exact icount itself
        elif self._halted is None and not self._stop_requested:
            self.icount = start + ran

    def _emulate(self) -> None:
        self.counter.prepare()
        try:
            try:
                self.uc.emu_start(self.pc | self.arch.start_bit, 0)
            finally:
                self.after_emulation()
        except unicorn.UcError as err:
            self._deliver_fault(err.errno)

    def _deliver_fault(self, errno: int) -> None:
        pc = self.pc
        self.icount = self.icount_at(pc)
        self.counter_reads.settle(self.icount)
        trap = _TRAPS.get(errno)
        if trap is not None and self.on_trap(trap):
            return
        signal, code, detail = self._fault_signal or _FAULT_SIGNALS.get(
            errno, (SIGSEGV, SI_KERNEL, f"emulator error {errno}")
        )
        addr = self._fault_addr if code != SI_KERNEL else 0
        if code == SEGV_MAPERR and not self._canonical(addr):
            code, addr = SI_KERNEL, 0  # a general protection fault
        if errno == unicorn.UC_ERR_INSN_INVALID:
            signal, code, addr = SIGILL, self.arch.illegal_code, pc
            if self._is_breakpoint_insn(pc):
                signal, code, detail = SIGTRAP, TRAP_BRKPT, "breakpoint instruction"
        if pc % self.arch.insn_alignment:
            signal, code, addr, detail = SIGBUS, BUS_ADRALN, pc, "jump to a misaligned address"
        if errno in _PROTECTION_FAULTS:
            # After a protection fault Unicorn can let the next access to another page of the
            # same region through unchecked: drop its TLB so that access is checked again.
            flush_tlb(self.uc)
        self._fault_signal, self._fault_addr = None, 0  # both said of this fault only
        self.on_fault(self, Fault(signal, pc, detail, code, addr))
        if self._halted is None and not self._stop_requested:
            self._stop_requested = True

    def _is_breakpoint_insn(self, pc: int) -> bool:
        """The instruction at `pc` is one of the architecture's breakpoint instructions."""
        encodings = self.arch.breakpoint_encodings
        if not encodings:
            return False
        try:
            low = int.from_bytes(self.uc.mem_read(pc, 2), "little")
            if low in encodings:
                return True
            return int.from_bytes(self.uc.mem_read(pc, 4), "little") in encodings
        except unicorn.UcError:
            return False

    # -- hooks ------------------------------------------------------------------------------

    def _install_hooks(self) -> None:
        self._syscall_hooks: list[int] = []  # handles, for `replace_syscall_hooks`
        if self.arch.syscall_insn is not None:
            insn = self.arch.syscall_insn
            self._syscall_hooks.append(
                self.uc.hook_add(unicorn.UC_HOOK_INSN, self._syscall_hook, None, 1, 0, insn)
            )
        self._syscall_hooks.append(self.uc.hook_add(unicorn.UC_HOOK_INTR, self._interrupt_hook))
        self.uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._unmapped_hook)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_PROT, self._protected_hook)

    def replace_syscall_hooks(
        self, native: Any, data: Any, enter: Callable[[], None], leave: Callable[[bool], None]
    ) -> list[Any]:
        """Put native hooks (`native.syscall`, `native.intr`: C functions taking `data`) in
        place of the syscall and interrupt hooks: they answer what they can and call the
        Python hooks for the rest through the C function pointers returned here (syscall,
        interrupt; keep them alive), with `enter()` before and `leave(was a syscall)` after."""
        for handle in self._syscall_hooks:
            self.uc.hook_del(handle)
        self._syscall_hooks = []

        def syscall(uc: unicorn.Uc, _data: object) -> None:
            enter()
            self._syscall_hook(uc, None)
            leave(True)

        def interrupt(uc: unicorn.Uc, intno: int, _data: object) -> None:
            enter()
            self._interrupt_hook(uc, intno, None)
            leave(intno == self.arch.syscall_interrupt)

        syscall_cb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
        intr_cb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
        fallbacks = [
            uccallback(self.uc, syscall_cb)(syscall),
            uccallback(self.uc, intr_cb)(interrupt),
        ]
        hooks: list[tuple[int, Any, list[Any]]] = [(unicorn.UC_HOOK_INTR, native.intr, [])]
        if self.arch.syscall_insn is not None:
            insn = [ctypes.c_int(self.arch.syscall_insn)]
            hooks.append((unicorn.UC_HOOK_INSN, native.syscall, insn))
        for kind, fn, extra in hooks:
            native_handle = ctypes.c_size_t()
            err = uclib.uc_hook_add(
                self.uc._uch, ctypes.byref(native_handle), kind, ctypes.cast(fn, ctypes.c_void_p),
                data, ctypes.c_uint64(1), ctypes.c_uint64(0), *extra,
            )  # fmt: skip
            if err != 0:
                raise unicorn.UcError(err)
        return fallbacks

    def _unmapped_hook(
        self, uc: unicorn.Uc, access: int, addr: int, size: int, value: int, _data: object
    ) -> bool:
        handled = self.on_unmapped(addr, size)
        if not handled:
            self._fault_addr = addr  # the si_addr of the fault that follows
        return handled

    def _protected_hook(
        self, uc: unicorn.Uc, access: int, addr: int, size: int, value: int, _data: object
    ) -> bool:
        self._fault_addr = addr
        signal = self.on_protected(addr)
        if signal is not None:
            detail = f"access at {addr:#x} past the end of a mapped file"
            self._fault_signal = (signal, BUS_ADRERR, detail)
        return False  # the access faults either way

    def _syscall_hook(self, uc: unicorn.Uc, _data: object) -> None:
        if self.counter_reads.waiting:
            self.counter_reads.settle(self.icount_at(self.pc))
        self.on_syscall(self)
        self._after_syscall()

    def _after_syscall(self) -> None:
        """A syscall can make an asynchronous event due (a thread switch when its thread
        blocks, a logged switch or signal just after it): stop there, not at the run's goal.
        A syscall ends its block, so the count is exact here."""
        if self._halted is not None or self._stop_requested:
            return
        due = self.next_async()
        if due is None:
            return
        if due <= self.icount:
            self.uc.emu_stop()
        elif due < self.counter.limit:
            self.counter.limit = due

    def _interrupt_hook(self, uc: unicorn.Uc, intno: int, _data: object) -> None:
        if intno == self.arch.syscall_interrupt:
            self.on_syscall(self)
            self._after_syscall()
            return
        if intno == self.arch.counter_trap_interrupt and self.counter_reads.answer_trap(self.pc):
            return
        if self.on_trap(intno):
            return
        # A fault leaves pc on the instruction (not retired); a trap such as int3 leaves it
        # past the end of its block, where the count already includes it.
        signal = self.arch.interrupt_signals.get(intno, self.arch.unknown_interrupt_signal)
        pc = self.pc
        past = self.arch.interrupt_pc_past.get(intno, 0)
        if past:
            pc -= past
            self.set_pc(pc)
        code, at_pc = self.arch.interrupt_siginfo.get(intno, (SI_KERNEL, False))
        addr = pc if at_pc else 0
        if intno in self.arch.interrupt_access_faults:
            word = int.from_bytes(self.read(pc, 4).ljust(4, b"\0"), "little")
            addr = self.reg(self.arch.access_address_register(word))
        detail = f"CPU exception {intno}"
        if pc % self.arch.insn_alignment:
            signal, code, addr, detail = SIGBUS, BUS_ADRALN, pc, "jump to a misaligned address"
        self.raise_fault(signal, pc, detail, code, addr)

    def _canonical(self, addr: int) -> bool:
        """Whether `addr` sign-extends from the architecture's canonical bits (if any)."""
        bits = self.arch.canonical_bits
        top = addr >> (bits - 1) if bits else 0
        return top in (0, (1 << (65 - bits)) - 1)

    def raise_fault(
        self, signal: int, pc: int, detail: str, code: int = SI_KERNEL, addr: int = 0
    ) -> None:
        """From inside a hook: the instruction at `pc` faults (not retired) with `signal`,
        the siginfo saying `code` and `addr`."""
        self.icount = self.icount_at(pc)
        self.counter_reads.settle(self.icount)
        self.on_fault(self, Fault(signal, pc, detail, code, addr))
        if self._halted is None:
            self.request_stop()
