"""ARMv7-M exception entry and return on a real Unicorn Cortex-M3, checked against the
architecture's rules (ARMv7-M ARM B1.5.6-B1.5.8): frame layout, alignment, EXC_RETURN."""

from __future__ import annotations

import struct

import pytest
import unicorn
from unicorn import arm_const as a

from ttdbg.backend.arch.armv7m import ARCH
from ttdbg.backend.cortexm.errors import NotModelled
from ttdbg.backend.cortexm.exceptions import (
    EXCP_EXCEPTION_EXIT,
    exception_return,
    take_exception,
)
from ttdbg.backend.cortexm.nvic import FIRST_IRQ, SYSTICK, ExceptionState

VTOR = 0
RAM = 0x20000000
HANDLER = 0x200  # bx lr
THREAD = 0x300  # nops
CCR_STKALIGN = 1 << 9
UART_IRQ = FIRST_IRQ + 5


class UnicornCore:
    """The Core protocol over a bare Unicorn, by the architecture's register names."""

    def __init__(self) -> None:
        self.uc = unicorn.Uc(ARCH.uc_arch, ARCH.uc_mode)
        self.uc.ctl_set_cpu_model(ARCH.cpu_model)
        self.uc.mem_map(0, 0x10000)
        self.uc.mem_map(RAM, 0x10000)
        self._ids = {r.name: r.uc_id for r in ARCH.registers}

    def reg(self, name: str) -> int:
        return int(self.uc.reg_read(self._ids[name])) & 0xFFFFFFFF

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self._ids[name], value & 0xFFFFFFFF)

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, data)

    def is_mapped(self, addr: int, size: int) -> bool:
        return any(b <= addr and addr + size - 1 <= e for b, e, _p in self.uc.mem_regions())


@pytest.fixture
def core() -> UnicornCore:
    c = UnicornCore()
    vectors = [0] * 48
    for n in (SYSTICK, UART_IRQ, 11):
        vectors[n] = HANDLER | 1
    vectors[SYSTICK] = (HANDLER + 0x10) | 1  # a second handler, to see tail-chaining
    c.write(VTOR, struct.pack("<48I", *vectors))
    c.write(HANDLER, bytes.fromhex("7047"))  # bx lr
    c.write(HANDLER + 0x10, bytes.fromhex("7047"))
    c.write(THREAD, bytes.fromhex("00bf") * 8)
    for i in range(13):
        c.set_reg(f"r{i}", 0x1000 + i)
    c.set_reg("lr", 0xAAAA0001)
    c.set_reg("sp", RAM + 0x1000)
    c.set_reg("pc", THREAD | 1)
    c.set_reg("xpsr", 0x81000000)  # N flag, Thumb
    return c


def nvic() -> ExceptionState:
    state = ExceptionState(num_irq=64, priority_bits=3)
    state.enabled.add(UART_IRQ)
    return state


def run_handler_return(core: UnicornCore, state: ExceptionState) -> list[int | None]:
    """Run from pc until the handler's `bx lr` raises the exception exit, and perform it."""
    results: list[int | None] = []

    def on_intr(uc: unicorn.Uc, intno: int, _data: object) -> None:
        assert intno == EXCP_EXCEPTION_EXIT
        excret = core.reg("pc") | (core.reg("xpsr") >> 24 & 1)
        results.append(exception_return(core, state, excret, VTOR, CCR_STKALIGN))
        uc.emu_stop()

    hook = core.uc.hook_add(unicorn.UC_HOOK_INTR, on_intr)
    core.uc.emu_start(core.reg("pc") | 1, 0, count=4)
    core.uc.hook_del(hook)
    return results


def test_entry_from_thread_mode_pushes_the_frame_and_returns_exactly(core: UnicornCore) -> None:
    state = nvic()
    state.pending.add(UART_IRQ)
    before = {r.name: core.reg(r.name) for r in ARCH.registers}
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD + 4)
    sp = RAM + 0x1000 - 32
    frame = struct.unpack("<8I", core.read(sp, 32))
    assert frame == (0x1000, 0x1001, 0x1002, 0x1003, 0x100C, 0xAAAA0001, THREAD + 4, 0x81000000)
    assert core.reg("sp") == core.reg("msp") == sp
    assert core.reg("lr") == 0xFFFFFFF9
    assert core.reg("pc") == HANDLER
    assert core.reg("xpsr") & 0x1FF == UART_IRQ
    assert core.reg("xpsr") & (1 << 24)  # Thumb from the vector's bit 0
    assert state.active == {UART_IRQ}
    assert not state.pending

    assert run_handler_return(core, state) == [None]
    after = {r.name: core.reg(r.name) for r in ARCH.registers}
    assert after["pc"] == THREAD + 4
    assert {k: v for k, v in after.items() if k != "pc"} == {
        k: v for k, v in before.items() if k != "pc"
    }
    assert not state.active


def test_unaligned_stack_gets_a_padding_word_and_xpsr_bit_9(core: UnicornCore) -> None:
    state = nvic()
    core.set_reg("sp", RAM + 0x1000 - 4)
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD)
    assert core.reg("sp") == RAM + 0x1000 - 8 - 32
    stacked_xpsr = struct.unpack("<I", core.read(core.reg("sp") + 28, 4))[0]
    assert stacked_xpsr & (1 << 9)
    run_handler_return(core, state)
    assert core.reg("sp") == RAM + 0x1000 - 4
    assert not core.reg("xpsr") & (1 << 9)


def test_without_stkalign_the_frame_is_not_aligned(core: UnicornCore) -> None:
    state = nvic()
    core.set_reg("sp", RAM + 0x1000 - 4)
    take_exception(core, state, UART_IRQ, VTOR, 0, THREAD)
    assert core.reg("sp") == RAM + 0x1000 - 4 - 32


def test_thread_mode_on_the_process_stack(core: UnicornCore) -> None:
    state = nvic()
    core.set_reg("psp", RAM + 0x800)
    core.set_reg("control", 2)  # SPSEL: sp is now the PSP
    assert core.reg("sp") == RAM + 0x800
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD)
    assert core.reg("lr") == 0xFFFFFFFD
    assert core.reg("psp") == RAM + 0x800 - 32
    assert core.reg("sp") == core.reg("msp") == RAM + 0x1000  # Handler mode: main stack
    assert core.reg("control") & 2 == 0
    run_handler_return(core, state)
    assert core.reg("control") & 2
    assert core.reg("sp") == core.reg("psp") == RAM + 0x800
    assert core.reg("msp") == RAM + 0x1000


def test_nested_exception_returns_to_handler_mode(core: UnicornCore) -> None:
    state = nvic()
    state.set_priority(SYSTICK, 0xE0)
    take_exception(core, state, SYSTICK, VTOR, CCR_STKALIGN, THREAD)
    outer_sp = core.reg("sp")
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, HANDLER + 0x10)
    assert core.reg("lr") == 0xFFFFFFF1
    stacked_xpsr = struct.unpack("<I", core.read(core.reg("sp") + 28, 4))[0]
    assert stacked_xpsr & 0x1FF == SYSTICK
    run_handler_return(core, state)
    assert core.reg("xpsr") & 0x1FF == SYSTICK
    assert core.reg("pc") == HANDLER + 0x10
    assert core.reg("sp") == outer_sp
    assert state.active == {SYSTICK}


def test_return_tail_chains_into_a_pending_exception(core: UnicornCore) -> None:
    state = nvic()
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD)
    sp_in_handler = core.reg("sp")
    state.pending.add(SYSTICK)
    assert run_handler_return(core, state) == [SYSTICK]
    assert core.reg("pc") == HANDLER + 0x10
    assert core.reg("lr") == 0xFFFFFFF9  # the returning EXC_RETURN, frame kept
    assert core.reg("sp") == sp_in_handler
    assert state.active == {SYSTICK}
    assert run_handler_return(core, state) == [None]
    assert core.reg("pc") == THREAD
    assert core.reg("sp") == RAM + 0x1000


def test_priority_masks_decide_what_is_taken() -> None:
    state = nvic()
    state.pending.add(UART_IRQ)
    state.set_priority(UART_IRQ, 0x40)
    assert state.takeable(0, 0, 0) == UART_IRQ
    assert state.takeable(1, 0, 0) is None  # PRIMASK
    assert state.takeable(0, 0, 0x40) is None  # BASEPRI at the same priority
    assert state.takeable(0, 0, 0x60) == UART_IRQ
    state.active.add(SYSTICK)  # running a handler of priority 0: no preemption by 0x40
    assert state.takeable(0, 0, 0) is None
    state.set_priority(UART_IRQ, 0x3F)  # only 3 bits implemented: reads back 0x20
    assert state.raw_priority(UART_IRQ) == 0x20
    state.enabled.clear()
    assert state.next_pending() is None


def test_bad_returns_stop_with_a_message(core: UnicornCore) -> None:
    state = nvic()
    with pytest.raises(NotModelled, match="Thread mode"):
        exception_return(core, state, 0xFFFFFFF9, VTOR, CCR_STKALIGN)
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD)
    with pytest.raises(NotModelled, match="EXC_RETURN 0xfffffff5"):
        exception_return(core, state, 0xFFFFFFF5, VTOR, CCR_STKALIGN)


def test_unicorn_raises_the_exit_only_in_handler_mode_registers(core: UnicornCore) -> None:
    """What the board relies on: the exit arrives as intno 8 with pc = EXC_RETURN & ~1."""
    state = nvic()
    take_exception(core, state, UART_IRQ, VTOR, CCR_STKALIGN, THREAD)
    seen: list[tuple[int, int]] = []

    def on_intr(uc: unicorn.Uc, intno: int, _data: object) -> None:
        seen.append((intno, int(uc.reg_read(a.UC_ARM_REG_PC))))
        uc.emu_stop()

    core.uc.hook_add(unicorn.UC_HOOK_INTR, on_intr)
    core.uc.emu_start(HANDLER | 1, 0, count=2)
    assert seen == [(EXCP_EXCEPTION_EXIT, 0xFFFFFFF8)]
