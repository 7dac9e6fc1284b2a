"""The System Control Space at 0xE000E000: NVIC, SysTick and System Control Block registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import NotModelled
from .exceptions import CCR_NONBASETHRDENA, CCR_STKALIGN
from .nvic import (
    FIRST_IRQ,
    NMI,
    PENDSV,
    SHPR_EXCEPTIONS,
    SYSTICK,
    ExceptionState,
)
from .systick import CALIB, SysTick

SCS_BASE = 0xE000E000
SCS_SIZE = 0x1000
CPUID_CORTEX_M3 = 0x410FC231  # what QEMU's cortex-m3 reports
VECTKEY = 0x05FA
AIRCR_SYSRESETREQ, AIRCR_VECTCLRACTIVE, AIRCR_VECTRESET = 1 << 2, 1 << 1, 1 << 0
ICSR_PENDSTCLR, ICSR_PENDSTSET = 1 << 25, 1 << 26
ICSR_PENDSVCLR, ICSR_PENDSVSET, ICSR_NMIPENDSET = 1 << 27, 1 << 28, 1 << 31
SCR_SLEEPONEXIT = 1 << 1
CCR_MODELLED = CCR_NONBASETHRDENA | CCR_STKALIGN
VTOR_MASK = 0x3FFFFF80
# DEMCR (C1.6.5): TRCENA, MON_REQ (a semaphore the processor ignores) and the vector-catch
# bits, which act only under a halting debugger (DHCSR.C_DEBUGEN, which software cannot set),
# are kept as written; MON_EN/MON_PEND/MON_STEP would start the DebugMonitor exception,
# which is not modelled: setting one stops the run. QEMU 7.2 makes all of DEMCR RAZ/WI.
DEMCR_TRCENA, DEMCR_MON_REQ = 1 << 24, 1 << 19
DEMCR_VC = 0x7F1  # VC_HARDERR..VC_MMERR (bits 10-4), VC_CORERESET (bit 0)
DEMCR_KEPT = DEMCR_TRCENA | DEMCR_MON_REQ | DEMCR_VC
DEMCR_MONITOR = {1 << 16: "MON_EN", 1 << 17: "MON_PEND", 1 << 18: "MON_STEP"}


@dataclass
class SystemControl:
    """The SCS registers over the exception state; `cycle` gives the clock's cycle count now,
    `ipsr` the current exception number, `reset_request` ends the run (SYSRESETREQ)."""

    nvic: ExceptionState
    cycle: Callable[[], int]
    ipsr: Callable[[], int]
    reset_request: Callable[[str], None]
    systick: SysTick = field(default_factory=SysTick)
    vtor: int = 0
    ccr: int = CCR_STKALIGN  # QEMU and the ARM recommendation: STKALIGN set at reset
    scr: int = 0
    cfsr: int = 0  # configurable fault status (UsageFault UNDEFINSTR, ...), write one to clear
    hfsr: int = 0  # HardFault status (FORCED), write one to clear
    # MemManage and BusFault addresses: read/write as in QEMU. No modelled fault sets
    # MMARVALID or BFARVALID (MemManage is taken only for execute-never fetches, IACCVIOL,
    # which has no address; an access where nothing answers stops the run), so they hold
    # what software wrote.
    mmfar: int = 0
    bfar: int = 0
    demcr: int = 0

    # -- access ---------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        word = offset & ~3
        if size != 4 and not _byte_accessible(word):
            raise NotModelled(f"{size}-byte read of SCS register {SCS_BASE + offset:#x}")
        value = self._read_word(word)
        shift = 8 * (offset - word)
        return (value >> shift) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        word = offset & ~3
        if size == 4 and offset == word:
            self._write_word(word, value)
            return
        if not _byte_accessible(word):
            raise NotModelled(f"{size}-byte write of SCS register {SCS_BASE + offset:#x}")
        for i in range(size):  # priority bytes: each byte is one exception's priority
            self._write_priority_byte(offset + i, (value >> (8 * i)) & 0xFF)

    # -- registers ------------------------------------------------------------------------

    def _read_word(self, off: int) -> int:
        nvic = self.nvic
        if 0x100 <= off < 0x400:
            bank, index = divmod(off - 0x100, 0x80)
            if index >= 0x40:
                raise NotModelled(f"SCS register {SCS_BASE + off:#x}")
            flags = (nvic.enabled, nvic.enabled, nvic.pending, nvic.pending, nvic.active, None)
            chosen = flags[bank]
            if chosen is None:
                raise NotModelled(f"SCS register {SCS_BASE + off:#x}")
            return self._irq_bits(chosen, index // 4)
        if 0x400 <= off < 0x400 + nvic.num_irq:
            return self._priority_word(FIRST_IRQ + off - 0x400)
        if 0xD18 <= off <= 0xD20:
            return self._priority_word(4 + off - 0xD18)
        reader = {
            0x004: lambda: (nvic.num_irq + 31) // 32 - 1,
            0x010: lambda: self.systick.read_csr(self.cycle()),
            0x014: lambda: self.systick.rvr,
            0x018: lambda: self.systick.read_cvr(self.cycle()),
            0x01C: lambda: CALIB,
            0xD00: lambda: CPUID_CORTEX_M3,
            0xD04: self._read_icsr,
            0xD08: lambda: self.vtor,
            0xD0C: lambda: (0xFA05 << 16) | (nvic.prigroup << 8),
            0xD10: lambda: self.scr,
            0xD14: lambda: self.ccr,
            0xD24: self._read_shcsr,
            0xD28: lambda: self.cfsr,
            0xD2C: lambda: self.hfsr,
            # Debug and auxiliary fault status: no debug event or implementation-defined
            # fault is modelled, so nothing sets them (QEMU's read 0 too).
            0xD30: lambda: 0,
            0xD34: lambda: self.mmfar,
            0xD38: lambda: self.bfar,
            0xD3C: lambda: 0,
            0xDFC: lambda: self.demcr,
        }.get(off)
        if reader is None:
            raise NotModelled(f"SCS register {SCS_BASE + off:#x}")
        return reader()

    def _write_word(self, off: int, value: int) -> None:
        nvic = self.nvic
        cycle = self.cycle
        if 0x100 <= off < 0x300:
            bank, index = divmod(off - 0x100, 0x80)
            if index >= 0x40:
                raise NotModelled(f"SCS register {SCS_BASE + off:#x}")
            numbers = [
                FIRST_IRQ + 32 * (index // 4) + bit
                for bit in range(32)
                if value >> bit & 1 and 32 * (index // 4) + bit < nvic.num_irq
            ]
            target = (nvic.enabled, nvic.enabled, nvic.pending, nvic.pending)[bank]
            if bank % 2 == 0:
                target.update(numbers)
            else:
                target.difference_update(numbers)
            return
        if 0x400 <= off < 0x400 + nvic.num_irq or 0xD18 <= off <= 0xD20:
            for i in range(4):
                self._write_priority_byte(off + i, (value >> (8 * i)) & 0xFF)
            return
        writer: dict[int, Callable[[], None]] = {
            0x010: lambda: self.systick.write_csr(cycle(), value),
            0x014: lambda: self.systick.write_rvr(cycle(), value),
            0x018: lambda: self.systick.write_cvr(cycle()),
            0xD04: lambda: self._write_icsr(value),
            0xD08: lambda: setattr(self, "vtor", value & VTOR_MASK),
            0xD0C: lambda: self._write_aircr(value),
            0xD10: lambda: self._write_scr(value),
            0xD14: lambda: self._write_ccr(value),
            0xD24: lambda: self._write_shcsr(value),
            0xD28: lambda: setattr(self, "cfsr", self.cfsr & ~value),
            0xD2C: lambda: setattr(self, "hfsr", self.hfsr & ~value),
            0xD30: lambda: None,  # write-one-to-clear of debug fault bits never set
            0xD34: lambda: setattr(self, "mmfar", value),
            0xD38: lambda: setattr(self, "bfar", value),
            0xDFC: lambda: self._write_demcr(value),
            0xF00: lambda: self._write_stir(value),
        }
        action = writer.get(off)
        if action is None:
            raise NotModelled(f"write of SCS register {SCS_BASE + off:#x}")
        action()

    def _irq_bits(self, numbers: set[int], word: int) -> int:
        base = FIRST_IRQ + 32 * word
        return sum(1 << (n - base) for n in numbers if base <= n < base + 32)

    def _priority_word(self, first: int) -> int:
        return sum(
            (self.nvic.raw_priority(n) & 0xFF) << (8 * i)
            for i, n in enumerate(range(first, first + 4))
            if n >= 4
        )

    def _write_priority_byte(self, off: int, value: int) -> None:
        if 0x400 <= off < 0x400 + self.nvic.num_irq:
            self.nvic.set_priority(FIRST_IRQ + off - 0x400, value)
        elif 0xD18 <= off < 0xD24:
            number = 4 + off - 0xD18
            if number in SHPR_EXCEPTIONS:  # the others are reserved: RAZ/WI
                self.nvic.set_priority(number, value)
        else:
            raise NotModelled(f"SCS register {SCS_BASE + off:#x}")

    def _read_icsr(self) -> int:
        nvic = self.nvic
        pending = nvic.next_pending()
        value = self.ipsr() & 0x1FF
        if pending is not None:
            value |= (pending & 0x1FF) << 12
        if any(n >= FIRST_IRQ for n in nvic.pending):
            value |= 1 << 22
        if len(nvic.active) <= 1:
            value |= 1 << 11  # RETTOBASE
        if PENDSV in nvic.pending:
            value |= ICSR_PENDSVSET
        if SYSTICK in nvic.pending:
            value |= ICSR_PENDSTSET
        if NMI in nvic.pending:
            value |= ICSR_NMIPENDSET
        return value

    def _write_icsr(self, value: int) -> None:
        pending = self.nvic.pending
        if value & ICSR_NMIPENDSET:
            pending.add(NMI)
        if value & ICSR_PENDSVSET:
            pending.add(PENDSV)
        elif value & ICSR_PENDSVCLR:
            pending.discard(PENDSV)
        if value & ICSR_PENDSTSET:
            pending.add(SYSTICK)
        elif value & ICSR_PENDSTCLR:
            pending.discard(SYSTICK)

    def _write_aircr(self, value: int) -> None:
        if value >> 16 != VECTKEY:
            return  # writes without the key are ignored (B3.2.6)
        self.nvic.prigroup = (value >> 8) & 0x7
        if value & AIRCR_VECTCLRACTIVE:
            raise NotModelled("AIRCR.VECTCLRACTIVE")
        if value & (AIRCR_SYSRESETREQ | AIRCR_VECTRESET):
            self.reset_request("SYSRESETREQ" if value & AIRCR_SYSRESETREQ else "VECTRESET")

    def _write_scr(self, value: int) -> None:
        if value & SCR_SLEEPONEXIT:
            raise NotModelled("SCR.SLEEPONEXIT")
        self.scr = value & 0x1E

    def _write_ccr(self, value: int) -> None:
        if value & 0x3FF & ~CCR_MODELLED:
            raise NotModelled(f"CCR bits {value & ~CCR_MODELLED:#x} (traps, USERSETMPEND)")
        self.ccr = value & CCR_MODELLED

    def _write_demcr(self, value: int) -> None:
        started = [name for bit, name in DEMCR_MONITOR.items() if value & bit]
        if started:
            raise NotModelled(f"DEMCR.{'/'.join(started)} (the DebugMonitor exception)")
        self.demcr = value & DEMCR_KEPT

    def _read_shcsr(self) -> int:
        nvic = self.nvic
        value = nvic.shcsr_enables
        for number, bit in ((11, 7), (12, 8), (14, 10), (15, 11), (4, 0), (5, 1), (6, 3)):
            if number in nvic.active:
                value |= 1 << bit
        return value

    def _write_shcsr(self, value: int) -> None:
        if value & 0xFFFF:
            raise NotModelled("writing SHCSR active/pending bits")
        self.nvic.shcsr_enables = value & 0x70000

    def _write_stir(self, value: int) -> None:
        irq = value & 0x1FF
        if irq < self.nvic.num_irq:
            self.nvic.pending.add(FIRST_IRQ + irq)

    # -- snapshots --------------------------------------------------------------------------

    def state(self) -> dict[str, object]:
        return {
            "nvic": self.nvic.state(),
            "vtor": self.vtor,
            "ccr": self.ccr,
            "scr": self.scr,
            "cfsr": self.cfsr,
            "hfsr": self.hfsr,
            "mmfar": self.mmfar,
            "bfar": self.bfar,
            "demcr": self.demcr,
            "systick": self.systick.state(),
        }

    def restore(self, state: dict[str, object]) -> None:
        nvic = state["nvic"]
        if not isinstance(nvic, dict):
            raise ValueError("bad NVIC state in snapshot")
        words = {}
        fields = (
            ("vtor", VTOR_MASK), ("ccr", CCR_MODELLED), ("scr", 0x1E),
            ("cfsr", 0xFFFFFFFF), ("hfsr", 0xFFFFFFFF), ("mmfar", 0xFFFFFFFF),
            ("bfar", 0xFFFFFFFF), ("demcr", DEMCR_KEPT),
        )  # fmt: skip
        for key, mask in fields:
            # (Snapshots made before a register was kept hold none: it was 0 there.)
            value = state[key] if key in ("vtor", "ccr", "scr") else state.get(key, 0)
            if not isinstance(value, int) or value & ~mask:
                raise ValueError(f"bad SCS {key} in snapshot")
            words[key] = value
        self.systick.restore(state["systick"])
        self.nvic.restore(nvic)
        self.vtor, self.ccr, self.scr = words["vtor"], words["ccr"], words["scr"]
        self.cfsr, self.hfsr = words["cfsr"], words["hfsr"]
        self.mmfar, self.bfar, self.demcr = words["mmfar"], words["bfar"], words["demcr"]


def _byte_accessible(word: int) -> bool:
    """IPR and SHPR registers take byte and halfword accesses (B3.4.1, B3.2.10)."""
    return 0x400 <= word < 0x5F0 or 0xD18 <= word <= 0xD20
