"""Signals for a single-threaded guest: actions, mask, pending set, default dispositions."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO, SA_RESTORER, SA_ONSTACK, SA_NODEFER, SA_RESETHAND = (
    4,
    0x04000000,
    0x08000000,
    0x40000000,
    0x80000000,
)
NSIG = 64
SIGKILL, SIGSTOP = 9, 19

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
    21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 28: "SIGWINCH",
}  # fmt: skip

# Signals whose default action is to do nothing (the stop signals included: no job control).
_DEFAULT_IGNORED = frozenset({17, 18, 19, 20, 21, 22, 23, 28})

_SIGACTION = struct.Struct("<QQQQ")  # handler, flags, restorer, mask (x86-64, AArch64)
_SIGACTION_NO_RESTORER = struct.Struct("<QQQ")  # handler, flags, mask (RISC-V)


def signal_name(sig: int) -> str:
    return SIGNAL_NAMES.get(sig, f"signal {sig}")


@dataclass(frozen=True)
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0

    def pack(self, with_restorer: bool = True) -> bytes:
        if with_restorer:
            return _SIGACTION.pack(self.handler, self.flags, self.restorer, self.mask)
        return _SIGACTION_NO_RESTORER.pack(self.handler, self.flags, self.mask)

    @classmethod
    def unpack(cls, data: bytes, with_restorer: bool = True) -> SigAction:
        if with_restorer:
            return cls(*_SIGACTION.unpack(data))
        handler, flags, mask = _SIGACTION_NO_RESTORER.unpack(data)
        return cls(handler, flags, 0, mask)


@dataclass
class SignalState:
    """Dispositions, the blocked mask and the pending set of the one guest thread."""

    actions: dict[int, SigAction] = field(default_factory=dict)
    blocked: int = 0
    pending: int = 0
    altstack: tuple[int, int, int] = (0, 2, 0)  # ss_sp, ss_flags (SS_DISABLE), ss_size

    def action(self, sig: int) -> SigAction:
        return self.actions.get(sig, SigAction())

    def is_ignored(self, sig: int) -> bool:
        act = self.action(sig)
        return act.handler == SIG_IGN or (act.handler == SIG_DFL and sig in _DEFAULT_IGNORED)

    def raise_signal(self, sig: int) -> None:
        if not self.is_ignored(sig):
            self.pending |= 1 << (sig - 1)

    def next_deliverable(self) -> int | None:
        ready = self.pending & ~self.blocked
        if not ready:
            return None
        sig = (ready & -ready).bit_length()
        self.pending &= ~(1 << (sig - 1))
        return sig

    def to_state(self) -> dict[str, Any]:
        return {
            "actions": {str(s): list(_SIGACTION.unpack(a.pack())) for s, a in self.actions.items()},
            "blocked": self.blocked,
            "pending": self.pending,
            "altstack": list(self.altstack),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SignalState:
        return cls(
            {int(s): SigAction(*v) for s, v in state["actions"].items()},
            state["blocked"],
            state["pending"],
            (state["altstack"][0], state["altstack"][1], state["altstack"][2]),
        )


@dataclass(frozen=True)
class FrameLayout:
    """Where an architecture's kernel puts a signal frame's parts (struct rt_sigframe)."""

    saved: tuple[str, ...]  # registers saved in the mcontext, 8 bytes each, in this order
    mcontext: int  # offset of the first saved register inside the ucontext
    sigmask: int  # offset of uc_sigmask inside the ucontext
    ucontext_size: int
    info_first: bool  # siginfo before the ucontext (the frame starts at sp) or after it
    link: str | None  # register for the return address; None: pushed on the stack (x86-64)
    args: tuple[str, str, str]  # where the handler gets (signal, &siginfo, &ucontext)
    red_zone: int
    # `mov x8/a7, #139` + `svc/ecall`: where a handler returns without an SA_RESTORER
    # trampoline of its own (Linux uses the vDSO's; the guest has no vDSO).
    trampoline: bytes = b""


_X86_SAVED = (
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx", "rdx",
    "rax", "rcx", "rsp", "rip", "eflags",
)  # fmt: skip
_RISCV_SAVED = (
    "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)  # fmt: skip

FRAME_LAYOUTS: dict[str, FrameLayout] = {
    # uc_flags, uc_link, uc_stack (24), then sigcontext (r8..eflags, ...), then uc_sigmask.
    "x86_64": FrameLayout(_X86_SAVED, 40, 296, 432, False, None, ("rdi", "rsi", "rdx"), 128),
    # uc_sigmask at 40 padded to 128 bytes; sigcontext at 176: fault_address, x0-x30, sp, pc,
    # pstate, then 4096 bytes of extension records (left empty: no FP state saved).
    "aarch64": FrameLayout(
        saved=(*(f"x{i}" for i in range(31)), "sp", "pc", "cpsr"),
        mcontext=184,
        sigmask=40,
        ucontext_size=4560,
        info_first=True,
        link="x30",
        args=("x0", "x1", "x2"),
        red_zone=0,
        trampoline=bytes.fromhex("681180d2010000d4"),
    ),
    # uc_sigmask at 40 padded to 128 bytes; sigcontext at 176: pc and x1-x31, then FP state.
    "riscv64": FrameLayout(
        saved=_RISCV_SAVED,
        mcontext=176,
        sigmask=40,
        ucontext_size=960,
        info_first=True,
        link="ra",
        args=("a0", "a1", "a2"),
        red_zone=0,
        trampoline=bytes.fromhex("9308b00873000000"),
    ),
}
SIGINFO_SIZE = 128
