"""ARMv7-M exception entry and return, done here because Unicorn raises them but does not
perform them: the 8-word frame, stack alignment (xPSR bit 9), EXC_RETURN, tail-chaining."""

from __future__ import annotations

import struct
from typing import Protocol

from .errors import NotModelled
from .nvic import NMI, ExceptionState

# Unicorn's exception numbers for an M-profile CPU (QEMU's EXCP_*).
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_BKPT, EXCP_EXCEPTION_EXIT = 1, 2, 3, 7, 8
EXCP_UNALIGNED = 4  # Unicorn raises a misaligned exclusive access as a data abort

XPSR_SPREALIGN = 1 << 9
XPSR_T = 1 << 24
XPSR_IT = (0x3 << 25) | (0x3F << 10)
XPSR_EXCEPTION = 0x1FF
CONTROL_SPSEL = 1 << 1
CCR_NONBASETHRDENA = 1 << 0
CCR_STKALIGN = 1 << 9
FRAME = struct.Struct("<8I")  # r0 r1 r2 r3 r12 lr return-address xpsr

EXC_RETURN_HANDLER = 0xFFFFFFF1
EXC_RETURN_THREAD_MSP = 0xFFFFFFF9
EXC_RETURN_THREAD_PSP = 0xFFFFFFFD


class Core(Protocol):
    """What exception entry and return need of the CPU: registers by name, memory."""

    def reg(self, name: str) -> int: ...

    def set_reg(self, name: str, value: int) -> None: ...

    def read(self, addr: int, size: int) -> bytes: ...

    def write(self, addr: int, data: bytes) -> None: ...

    def is_mapped(self, addr: int, size: int) -> bool: ...


def masks(core: Core) -> tuple[int, int, int]:
    """PRIMASK, FAULTMASK, BASEPRI."""
    return core.reg("primask"), core.reg("faultmask"), core.reg("basepri")


def take_exception(
    core: Core, nvic: ExceptionState, number: int, vtor: int, ccr: int, return_address: int
) -> None:
    """Exception entry (B1.5.6 ExceptionEntry): push the frame on the current stack, switch
    to Handler mode on the main stack, branch to the vector with EXC_RETURN in lr."""
    xpsr = core.reg("xpsr")
    frameptr = core.reg("sp")
    if frameptr & 4 and ccr & CCR_STKALIGN:
        frameptr -= 4
        xpsr |= XPSR_SPREALIGN
    else:
        xpsr &= ~XPSR_SPREALIGN
    frameptr = (frameptr - FRAME.size) & 0xFFFFFFFF
    if not core.is_mapped(frameptr, FRAME.size):
        raise NotModelled(
            f"exception {number}: the stack frame at {frameptr:#x} is not in RAM "
            "(stacking faults are not modelled)"
        )
    regs = [core.reg(n) for n in ("r0", "r1", "r2", "r3", "r12", "lr")]
    core.write(frameptr, FRAME.pack(*regs, return_address & 0xFFFFFFFF, xpsr & 0xFFFFFFFF))
    core.set_reg("sp", frameptr)
    if xpsr & XPSR_EXCEPTION:
        excret = EXC_RETURN_HANDLER
    elif core.reg("control") & CONTROL_SPSEL:
        excret = EXC_RETURN_THREAD_PSP
    else:
        excret = EXC_RETURN_THREAD_MSP
    _enter_handler(core, nvic, number, vtor, excret)


def _enter_handler(core: Core, nvic: ExceptionState, number: int, vtor: int, excret: int) -> None:
    """The part of entry shared with tail-chaining: vector, IPSR, SPSEL, lr."""
    vector = int.from_bytes(_read_vector(core, vtor, number), "little")
    if not vector & 1:
        raise NotModelled(
            f"exception {number}: vector {vector:#x} has bit 0 clear (the INVSTATE "
            "UsageFault it causes is not modelled)"
        )
    control = core.reg("control")
    if control & CONTROL_SPSEL:
        core.set_reg("control", control & ~CONTROL_SPSEL)  # Unicorn swaps the banked SP
    xpsr = core.reg("xpsr")
    core.set_reg("xpsr", (xpsr & ~(XPSR_IT | XPSR_EXCEPTION | XPSR_SPREALIGN)) | XPSR_T | number)
    nvic.acknowledge(number)
    core.set_reg("lr", excret)
    core.set_reg("pc", vector)  # bit 0 set: Unicorn keeps the Thumb state from it


def _read_vector(core: Core, vtor: int, number: int) -> bytes:
    addr = vtor + 4 * number
    if not core.is_mapped(addr, 4):
        raise NotModelled(f"exception {number}: vector table entry {addr:#x} is not in memory")
    return core.read(addr, 4)


def exception_return(
    core: Core, nvic: ExceptionState, excret: int, vtor: int, ccr: int
) -> int | None:
    """Exception return (B1.5.8 ExceptionReturn) for a branch to `excret` in Handler mode.

    Returns the number of the exception tail-chained into (taken without unstacking), or
    None when the frame was popped and execution resumes where the exception interrupted.
    """
    xpsr = core.reg("xpsr")
    number = xpsr & XPSR_EXCEPTION
    if number == 0:
        raise NotModelled(f"branch to {excret:#x} in Thread mode (an exception return address)")
    if excret >> 4 != 0x0FFFFFFF or excret & 0xF not in (0x1, 0x9, 0xD):
        raise NotModelled(f"exception return with EXC_RETURN {excret:#x} (INVPC UsageFault)")
    if number != NMI:
        core.set_reg("faultmask", 0)
    rettobase = nvic.complete(number)
    if rettobase is None:
        raise NotModelled(f"return from exception {number}, which is not active (INVPC)")
    to_handler = excret & 0xF == 0x1
    to_psp = excret & 0xF == 0xD
    if not to_handler and not rettobase and not ccr & CCR_NONBASETHRDENA:
        raise NotModelled("return to Thread mode with exceptions still active (INVPC)")
    control = core.reg("control")
    spsel = CONTROL_SPSEL if to_psp else 0
    if control & CONTROL_SPSEL != spsel:
        core.set_reg("control", (control & ~CONTROL_SPSEL) | spsel)  # Handler mode: no swap
    chained = nvic.takeable(*masks(core))
    if chained is not None:
        _enter_handler(core, nvic, chained, vtor, excret)
        return chained
    stack = "psp" if to_psp else "msp"
    frameptr = core.reg(stack)
    if not core.is_mapped(frameptr, FRAME.size):
        raise NotModelled(f"exception return: the frame at {frameptr:#x} is not in RAM")
    r0, r1, r2, r3, r12, lr, pc, frame_xpsr = FRAME.unpack(core.read(frameptr, FRAME.size))
    for name, value in zip(
        ("r0", "r1", "r2", "r3", "r12", "lr"), (r0, r1, r2, r3, r12, lr), strict=True
    ):
        core.set_reg(name, value)
    frameptr += FRAME.size
    if frame_xpsr & XPSR_SPREALIGN:
        frameptr |= 4
    core.set_reg(stack, frameptr & 0xFFFFFFFF)
    # Writing IPSR leaves Handler mode; Unicorn then switches sp to the banked one.
    core.set_reg("xpsr", frame_xpsr & ~XPSR_SPREALIGN)
    # v7-M ignores bit 0 of the stacked pc (as QEMU does); Unicorn takes Thumb from bit 0.
    core.set_reg("pc", pc | 1)
    if to_handler != bool(frame_xpsr & XPSR_EXCEPTION):
        raise NotModelled("exception return: the stacked IPSR does not match EXC_RETURN (INVPC)")
    return None
