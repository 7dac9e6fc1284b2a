"""The CPU's load reservation (RISC-V lr/sc, AArch64's exclusive monitor) read from and
written into Unicorn, which keeps it in its CPU state but exposes it as no register.

Where it sits in the saved CPU context is found once per architecture by calibration: a
scratch CPU reserves two known addresses holding known words, and the only context offsets
holding exactly those values in both runs are the reservation's fields. A store-conditional
then has to succeed with the fields written back and fail with them cleared. Anything short
of that and the reservation is not carried (a warning says so); a restore then clears it.
"""

from __future__ import annotations

import ctypes
import logging
import struct
from collections.abc import Mapping

import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from .arch.base import Arch, ReservationProbe

log = logging.getLogger(__name__)

# The reserved address when none is held: what sc/stxr/clrex leave in QEMU.
CLEARED = (1 << 64) - 1
PREFIX = "reservation."  # the fields' names among a MachineState's registers

_CODE, _DATA = 0x10000, (0x5A5A3000, 0x3C3C7000)
_OFFSETS_IN_PAGE = (0x1E0, 0x2F0)  # pairs are 16-byte aligned
_WORDS = (
    (0x1122334455667788, 0x0F1E2D3C4B5A6978),
    (0x8877665544332211, 0x7869A5B4C3D2E1F0),
)


def _scratch(arch: Arch, probe: ReservationProbe) -> unicorn.Uc:
    uc = unicorn.Uc(arch.uc_arch, arch.uc_mode)
    uc.ctl_set_cpu_model(arch.cpu_model)
    arch.setup(uc)
    uc.mem_map(_CODE, 0x1000, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    uc.mem_write(_CODE, probe.load + probe.store)
    for page in _DATA:
        uc.mem_map(page, 0x1000)
    return uc


def _run(uc: unicorn.Uc, arch: Arch, start: int) -> None:
    uc.emu_start(start | arch.start_bit, start + 4, count=1)


def _context_bytes(uc: unicorn.Uc, ctx: unicorn.UcContext) -> bytes:
    uc.context_update(ctx)
    return ctypes.string_at(ctx.context.value, ctx.size)


def _calibrate(arch: Arch, probe: ReservationProbe) -> tuple[int, ...] | None:
    """The context offsets of the reservation's fields, or None (with the reason logged)."""
    uc = _scratch(arch, probe)
    reg = {r.name: r.uc_id for r in arch.registers}
    ctx = uc.context_save()
    snaps, wanted = [], []
    for page, off, words in zip(_DATA, _OFFSETS_IN_PAGE, _WORDS, strict=True):
        addr = page + off
        uc.mem_write(addr, struct.pack("<QQ", *words))
        uc.reg_write(reg[probe.address], addr)
        _run(uc, arch, _CODE)
        # The address and loaded words also sit in registers: clear those copies.
        for name in (probe.address, *probe.loaded):
            uc.reg_write(reg[name], 0)
        snaps.append(_context_bytes(uc, ctx))
        mask = (1 << (8 * probe.width)) - 1
        wanted.append((addr, *(w & mask for w in words))[: len(probe.fields)])
    offsets = []
    for field, (one, two) in zip(probe.fields, zip(*wanted, strict=True), strict=True):
        found = [
            o
            for o in range(0, len(snaps[0]) - 7)
            if struct.unpack_from("<Q", snaps[0], o)[0] == one
            and struct.unpack_from("<Q", snaps[1], o)[0] == two
        ]
        if len(found) != 1:
            log.warning(
                "%s: the CPU's load reservation is not carried in snapshots (its %s field "
                "matched %d places in Unicorn's context); a restored state holds none",
                arch.name,
                field,
                len(found),
            )
            return None
        offsets.append(found[0])
    if not _verify(uc, arch, probe, ctx, tuple(offsets), wanted[1]):
        log.warning(
            "%s: the CPU's load reservation is not carried in snapshots (writing it back "
            "did not decide a store-conditional); a restored state holds none",
            arch.name,
        )
        return None
    return tuple(offsets)


def _verify(
    uc: unicorn.Uc,
    arch: Arch,
    probe: ReservationProbe,
    ctx: unicorn.UcContext,
    offsets: tuple[int, ...],
    held: tuple[int, ...],
) -> bool:
    """Whether a store-conditional succeeds with `held` written at `offsets` and fails with
    the reservation cleared (the CPU currently holds the other one)."""
    reg = {r.name: r.uc_id for r in arch.registers}
    addr = held[0]
    outcomes = []
    for fields in (held, (CLEARED,)):
        uc.mem_write(addr, struct.pack("<QQ", *_WORDS[1]))
        _write(uc, ctx, offsets, (CLEARED,))  # forget whatever the probe left
        _write(uc, ctx, offsets, fields)
        uc.reg_write(reg[probe.address], addr)
        for name in probe.loaded:
            uc.reg_write(reg[name], 0xABCDEF)
        uc.reg_write(reg[probe.status], 7)
        _run(uc, arch, _CODE + 4)
        outcomes.append((uc.reg_read(reg[probe.status]), uc.mem_read(addr, probe.width)))
    stored, refused = outcomes
    abcdef = (0xABCDEF).to_bytes(probe.width, "little")
    return stored == (0, abcdef) and refused[0] == 1 and refused[1] != abcdef


def _write(
    uc: unicorn.Uc, ctx: unicorn.UcContext, offsets: tuple[int, ...], values: tuple[int, ...]
) -> None:
    uc.context_update(ctx)
    base = ctx.context.value
    for off, value in zip(offsets, values, strict=False):
        ctypes.c_uint64.from_address(base + off).value = value
    uc.context_restore(ctx)


_LAYOUTS: dict[tuple[str, int], tuple[int, ...] | None] = {}


def _layout(arch: Arch) -> tuple[int, ...] | None:
    """The fields' offsets for `arch`'s CPU, calibrated once per process."""
    key = (arch.name, arch.cpu_model)
    if key not in _LAYOUTS:
        probe = arch.reservation
        try:
            _LAYOUTS[key] = None if probe is None else _calibrate(arch, probe)
        except unicorn.UcError as err:
            log.warning(
                "%s: the CPU's load reservation is not carried in snapshots (its probe "
                "failed: %s); a restored state holds none",
                arch.name,
                err,
            )
            _LAYOUTS[key] = None
    return _LAYOUTS[key]


class Reservation:
    """One machine's load reservation, as `reservation.*` entries of a register dict (none
    when no reservation is held, so states without them read as holding none)."""

    def __init__(self, uc: unicorn.Uc, arch: Arch) -> None:
        self._uc = uc
        self._offsets = _layout(arch)
        probe = arch.reservation
        self._names = tuple(PREFIX + f for f in probe.fields) if probe else ()
        self._ctx: unicorn.UcContext | None = None
        self._fields: list[ctypes.c_uint64] = []
        if self._offsets is not None:
            self._ctx = uc.context_save()
            base = self._ctx.context.value
            # Views into the saved context; a thread switch reads them, so no binding overhead.
            self._fields = [ctypes.c_uint64.from_address(base + off) for off in self._offsets]
            self._uch, self._raw_ctx = uc._uch, self._ctx.context

    def read(self) -> dict[str, int]:
        """The reservation held, or {} when none is (or it cannot be read)."""
        if not self._fields:
            return {}
        err = uclib.uc_context_save(self._uch, self._raw_ctx)
        if err != 0:
            raise unicorn.UcError(err)
        values = [field.value for field in self._fields]
        if values[0] == CLEARED:
            return {}
        return dict(zip(self._names, values, strict=True))

    def write(self, registers: Mapping[str, int]) -> None:
        """Hold the reservation `registers` names, or none when it names none."""
        if self._ctx is None or self._offsets is None:
            return
        held = self._names[0] in registers
        wanted = {name: registers.get(name, 0) for name in self._names} if held else {}
        if self.read() != wanted:
            _write(self._uc, self._ctx, self._offsets, tuple(wanted.values()) or (CLEARED,))

    def clear(self) -> None:
        """Drop the reservation, as Linux does when it switches threads."""
        if self.read() and self._ctx is not None and self._offsets is not None:
            _write(self._uc, self._ctx, self._offsets, (CLEARED,))
