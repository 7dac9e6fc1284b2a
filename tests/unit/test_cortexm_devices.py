"""The Cortex-M device models on their own: SysTick against the ARMv7-M counting rules, the
Stellaris UART against QEMU's PL011, the SCS registers, snapshots of each."""

from __future__ import annotations

import pytest

from ttdbg.backend.cortexm.errors import NotModelled
from ttdbg.backend.cortexm.nvic import FIRST_IRQ, PENDSV, SYSTICK, ExceptionState
from ttdbg.backend.cortexm.scs import SystemControl
from ttdbg.backend.cortexm.stellaris_uart import FR_RXFE, FR_RXFF, INT_RX, INT_TX, StellarisUart
from ttdbg.backend.cortexm.systick import CSR_COUNTFLAG, SysTick


def brute_force_systick(start_value: int, rvr: int, cycles: int) -> tuple[list[int], list[int]]:
    """Count cycle by cycle as B3.3.1 describes: values after each cycle, wrap cycles."""
    value, values, wraps = start_value, [start_value], []
    for cycle in range(1, cycles + 1):
        if value == 0:
            value = rvr
        else:
            value -= 1
            if value == 0:
                wraps.append(cycle)
        values.append(value)
    return values, wraps


@pytest.mark.parametrize(("start", "rvr"), [(0, 4), (3, 4), (7, 2), (0, 1), (5, 0)])
def test_systick_value_and_wraps_match_counting_cycle_by_cycle(start: int, rvr: int) -> None:
    tick = SysTick()
    tick.write_rvr(0, rvr)
    tick.stopped_value = start
    tick.write_csr(100, 0b111)
    values, wraps = brute_force_systick(start, rvr, 40)
    assert [tick.value(100 + c) for c in range(41)] == values
    found, at = [], 100
    while (nxt := tick.next_wrap(at)) is not None and nxt <= 140:
        found.append(nxt - 100)
        at = nxt
    assert found == wraps


def test_systick_countflag_and_cvr_write() -> None:
    tick = SysTick()
    tick.write_rvr(0, 9)
    tick.write_csr(0, 0b101)  # enabled, no interrupt
    assert tick.due() is None
    assert not tick.read_csr(5) & CSR_COUNTFLAG
    assert tick.read_csr(11) & CSR_COUNTFLAG  # 0 -> 9 at 1, reaches 0 at 10
    assert not tick.read_csr(12) & CSR_COUNTFLAG  # reading cleared it
    tick.write_cvr(15)
    assert tick.value(15) == 0
    assert tick.value(16) == 9
    tick.write_csr(20, 0b111)
    assert tick.due() == 25
    assert not tick.fire(24)
    assert tick.fire(25)
    assert tick.due() == 35


def test_systick_refuses_the_external_clock() -> None:
    with pytest.raises(NotModelled, match="CLKSOURCE"):
        SysTick().write_csr(0, 0b011)


def test_uart_fifo_flags_and_interrupts_follow_qemu() -> None:
    lines: list[bool] = []
    out: list[int] = []
    uart = StellarisUart(output=out.append, irq=lines.append)
    assert uart.read(0x018) & FR_RXFE
    assert uart.can_receive()
    uart.receive(0x41)
    assert not uart.can_receive()  # FIFO disabled: one byte deep
    assert uart.read(0x018) & FR_RXFF
    uart.write(0x02C, 0x70)  # FEN: the FIFO is reset, 16 deep
    assert uart.read(0x018) & FR_RXFE
    for b in b"0123456789abcdef":
        uart.receive(b)
    assert not uart.can_receive()
    assert uart.read(0x018) & FR_RXFF
    assert uart.read(0x03C) & INT_RX
    assert uart.read(0x040) == 0
    uart.write(0x038, INT_RX)
    assert lines[-1] is True
    assert uart.read(0x040) == INT_RX
    assert bytes(uart.read(0x000) for _ in range(16)) == b"0123456789abcdef"
    assert uart.read(0x018) & FR_RXFE
    assert not uart.read(0x03C) & INT_RX
    assert lines[-1] is False
    uart.write(0x000, ord("z"))
    assert out == [ord("z")]
    assert uart.read(0x03C) & INT_TX
    uart.write(0x044, INT_TX)
    assert not uart.read(0x03C) & INT_TX
    assert [uart.read(0xFE0 + 4 * i) for i in range(8)] == [0x11, 0, 0x18, 1, 0xD, 0xF0, 5, 0xB1]
    with pytest.raises(NotModelled):
        uart.read(0x100)
    with pytest.raises(NotModelled, match="loopback"):
        uart.write(0x030, 0x80)


def test_uart_state_round_trips_and_rejects_bad_snapshots() -> None:
    uart = StellarisUart()
    uart.write(0x02C, 0x10)
    uart.receive(7)
    copy = StellarisUart()
    copy.restore(uart.state())
    assert copy.state() == uart.state()
    assert copy.read(0) == 7
    bad = uart.state() | {"fifo": list(range(17))}
    with pytest.raises(ValueError, match="FIFO"):
        copy.restore(bad)


def scs() -> tuple[SystemControl, list[str], list[int]]:
    resets: list[str] = []
    cycle = [0]
    regs = SystemControl(
        ExceptionState(num_irq=64, priority_bits=3),
        cycle=lambda: cycle[0],
        ipsr=lambda: 0,
        reset_request=resets.append,
    )
    return regs, resets, cycle


def test_scs_nvic_registers() -> None:
    regs, _resets, _cycle = scs()
    nvic = regs.nvic
    regs.write(0x100, 4, 1 << 5)  # ISER0: IRQ 5
    assert nvic.enabled == {FIRST_IRQ + 5}
    assert regs.read(0x100, 4) == 1 << 5
    regs.write(0x104, 4, 1)  # ISER1: IRQ 32
    regs.write(0x180, 4, 1 << 5)  # ICER0
    assert nvic.enabled == {FIRST_IRQ + 32}
    regs.write(0x200, 4, 1 << 3)  # ISPR0
    assert nvic.pending == {FIRST_IRQ + 3}
    assert regs.read(0x200, 4) == 1 << 3
    regs.write(0x280, 4, 1 << 3)
    assert not nvic.pending
    regs.write(0x405, 1, 0xFF)  # IPR byte of IRQ 5: 3 bits kept
    assert regs.read(0x404, 4) == 0xE000
    assert regs.read(0x405, 1) == 0xE0
    regs.write(0xD20, 4, 0xC0 << 24 | 0x40 << 16)  # SHPR3: SysTick, PendSV
    assert nvic.raw_priority(SYSTICK) == 0xC0
    assert nvic.raw_priority(PENDSV) == 0x40
    regs.write(0xF00, 4, 9)  # STIR
    assert FIRST_IRQ + 9 in nvic.pending
    regs.write(0xD04, 4, 1 << 28)  # ICSR.PENDSVSET
    assert PENDSV in nvic.pending
    assert regs.read(0xD04, 4) & (1 << 28)
    assert regs.read(0xD00, 4) == 0x410FC231
    assert regs.read(0x004, 4) == 1  # ICTR: 64 lines


def test_scs_aircr_vtor_and_reset() -> None:
    regs, resets, _cycle = scs()
    regs.write(0xD0C, 4, 5 << 8)  # no VECTKEY: ignored
    assert regs.nvic.prigroup == 0
    assert not resets
    regs.write(0xD0C, 4, 0x05FA0000 | 5 << 8)
    assert regs.nvic.prigroup == 5
    assert regs.read(0xD0C, 4) == 0xFA050500
    regs.write(0xD08, 4, 0x20000123)
    assert regs.read(0xD08, 4) == 0x20000100
    regs.write(0xD0C, 4, 0x05FA0004)
    assert resets == ["SYSRESETREQ"]
    with pytest.raises(NotModelled, match="0xe000ed90"):
        regs.read(0xD90, 4)  # the MPU
    with pytest.raises(NotModelled):
        regs.write(0xD14, 4, 1 << 4)  # CCR.DIV_0_TRP


def test_scs_systick_registers_use_the_cycle_count() -> None:
    regs, _resets, cycle = scs()
    regs.write(0x014, 4, 99)
    regs.write(0x018, 4, 0)
    regs.write(0x010, 4, 7)
    cycle[0] = 51
    assert regs.read(0x018, 4) == 49
    assert regs.systick.due() == 100


def test_scs_state_round_trips() -> None:
    regs, _resets, _cycle = scs()
    regs.write(0x100, 4, 0x21)
    regs.write(0x405, 1, 0x40)
    regs.write(0x014, 4, 1000)
    regs.write(0x010, 4, 7)
    regs.nvic.active.add(SYSTICK)
    regs.write(0xD34, 4, 0x20000010)  # MMFAR
    regs.write(0xD38, 4, 0x40001000)  # BFAR
    regs.write(0xDFC, 4, 0x01000001)  # DEMCR: TRCENA, VC_CORERESET
    copy, _r, _c = scs()
    copy.restore(regs.state())
    assert copy.state() == regs.state()
    assert (copy.read(0xD34, 4), copy.read(0xD38, 4)) == (0x20000010, 0x40001000)
    assert copy.read(0xDFC, 4) == 0x01000001
    with pytest.raises(ValueError, match="vtor"):
        copy.restore(regs.state() | {"vtor": 3})
    with pytest.raises(ValueError, match="demcr"):
        copy.restore(regs.state() | {"demcr": 1 << 16})  # MON_EN is never kept
    # A snapshot from before these registers were kept: they were 0 there.
    old = {k: v for k, v in regs.state().items() if k not in ("mmfar", "bfar", "demcr")}
    copy.restore(old)
    assert (copy.mmfar, copy.bfar, copy.demcr) == (0, 0, 0)
