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


# x86-64 rt_sigframe: pretcode, ucontext (flags, link, stack, mcontext, sigmask), siginfo.
_MCONTEXT_REGS = (
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx", "rdx",
    "rax", "rcx", "rsp", "rip", "eflags",
)  # fmt: skip
_UC_MCONTEXT = 40  # offset of uc_mcontext inside ucontext
_UC_SIGMASK = _UC_MCONTEXT + 256
_UCONTEXT_SIZE = _UC_SIGMASK + 8 + 128  # sigmask plus the kernel's padding
_SIGINFO_SIZE = 128


def frame_layout() -> tuple[tuple[str, ...], int, int, int]:
    """Register order, mcontext offset, sigmask offset and ucontext size of the x86-64 frame."""
    return _MCONTEXT_REGS, _UC_MCONTEXT, _UC_SIGMASK, _UCONTEXT_SIZE


SIGINFO_SIZE = _SIGINFO_SIZE
