"""Signals: actions, the running thread's mask, pending set and alternate stack, default
dispositions."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO, SA_RESTORER, SA_ONSTACK, SA_RESTART = 4, 0x04000000, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND = 0x40000000, 0x80000000
SI_USER, SI_KERNEL, SI_TKILL = 0, 0x80, -6  # si_code: kill(), the kernel (a tty), tgkill()
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
UC_STACK = 16  # offset of uc_stack (stack_t) in every architecture's ucontext
_STACK_T = struct.Struct("<QIIQ")  # ss_sp, ss_flags, padding, ss_size
NSIG = 64
SIGKILL, SIGSTOP = 9, 19

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
    21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 28: "SIGWINCH",
}  # fmt: skip

# Calls that return EINTR after a signal handler ran, SA_RESTART or not (signal(7)).
NEVER_RESTARTED = frozenset({
    "pause", "rt_sigsuspend", "poll", "ppoll", "select", "pselect6", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "nanosleep", "clock_nanosleep",
})  # fmt: skip
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))

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
    # Who sent each pending signal: (si_code, si_pid, si_uid) for its siginfo.
    senders: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # The mask to restore after a call that waited under a mask of its own (sigsuspend,
    # ppoll, pselect6, epoll_pwait): the first signal frame saves it, as Linux's does.
    saved_mask: int | None = None

    def wait_with_mask(self, mask: int) -> None:
        """Replace the blocked mask for the duration of a call (restored after it)."""
        self.saved_mask = self.blocked
        self.blocked = mask & ~UNBLOCKABLE

    def mask_for_frame(self) -> int:
        """The mask a signal frame saves (and sigreturn restores)."""
        saved, self.saved_mask = self.saved_mask, None
        return self.blocked if saved is None else saved

    def restore_saved_mask(self) -> None:
        if self.saved_mask is not None:
            self.blocked, self.saved_mask = self.saved_mask, None

    def action(self, sig: int) -> SigAction:
        return self.actions.get(sig, SigAction())

    # The alternate signal stack, kept as Linux keeps it: disabled is (0, SS_DISABLE, 0),
    # otherwise the flags hold only SS_AUTODISARM.

    def on_altstack(self, sp: int) -> bool:
        """Whether `sp` lies on the alternate stack (never while it auto-disarms)."""
        base, flags, size = self.altstack
        return not flags & SS_AUTODISARM and base < sp <= base + size

    def altstack_flags(self, sp: int) -> int:
        """ss_flags as sigaltstack and a signal frame's uc_stack report them at `sp`."""
        _base, flags, size = self.altstack
        if not size:
            return SS_DISABLE
        return (flags & SS_AUTODISARM) | (SS_ONSTACK if self.on_altstack(sp) else 0)

    def altstack_image(self, sp: int) -> bytes:
        """The stack_t describing the alternate stack, seen from `sp`."""
        base, _flags, size = self.altstack
        return _STACK_T.pack(base, self.altstack_flags(sp), 0, size)

    def set_altstack(self, image: bytes, min_size: int) -> int:
        """Install the stack_t `image`; 0 or the negative errno sigaltstack returns."""
        base, flags, _pad, size = _STACK_T.unpack(image)
        mode = flags & ~SS_AUTODISARM & 0xFFFFFFFF
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -22  # EINVAL
        if mode == SS_DISABLE:
            self.altstack = (0, SS_DISABLE, 0)
            return 0
        if size < min_size:
            return -12  # ENOMEM
        self.altstack = (base, flags & SS_AUTODISARM, size)
        return 0

    def signal_stack_top(self, sp: int, flags: int) -> int | None:
        """Where a handler with these sa_flags gets its frame when the interrupted code is at
        `sp`: the top of the alternate stack (SA_ONSTACK, enabled, not on it yet), else None."""
        if not flags & SA_ONSTACK or self.altstack_flags(sp) != 0:
            return None
        base, _flags, size = self.altstack
        return base + size

    def is_ignored(self, sig: int) -> bool:
        act = self.action(sig)
        return act.handler == SIG_IGN or (act.handler == SIG_DFL and sig in _DEFAULT_IGNORED)

    def raise_signal(self, sig: int, sender: tuple[int, int, int] = (SI_KERNEL, 0, 0)) -> None:
        if not self.is_ignored(sig):
            self.pending |= 1 << (sig - 1)
            self.senders.setdefault(sig, sender)

    def siginfo(self, sig: int) -> bytes:
        """The siginfo for delivering `sig` (and forget who sent it)."""
        code, pid, uid = self.senders.pop(sig, (SI_KERNEL, 0, 0))
        return struct.pack("<iiiiiI", sig, 0, code, 0, pid, uid).ljust(SIGINFO_SIZE, b"\0")

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
            "senders": {str(s): list(v) for s, v in self.senders.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SignalState:
        return cls(
            {int(s): SigAction(*v) for s, v in state["actions"].items()},
            state["blocked"],
            state["pending"],
            (state["altstack"][0], state["altstack"][1], state["altstack"][2]),
            {int(s): (v[0], v[1], v[2]) for s, v in state.get("senders", {}).items()},
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


# -- floating-point and vector state in a signal frame -----------------------------------------


def _x86_pack_fp(regs: dict[str, int]) -> bytes:
    """The FXSAVE image Linux points uc_mcontext.fpstate at (legacy format)."""
    top = (regs["fstat"] >> 11) & 7
    tags = regs["ftag"]
    abridged = sum(1 << i for i in range(8) if (tags >> (2 * i)) & 3 != 3)
    out = bytearray(512)
    struct.pack_into("<HHBxH", out, 0, regs["fctrl"], regs["fstat"], abridged, regs["fop"])
    struct.pack_into("<II", out, 24, regs["mxcsr"], 0xFFFF)
    for i in range(8):  # ST(i) is relative to the top of the x87 stack
        out[32 + 16 * i : 42 + 16 * i] = regs[f"fp{(top + i) % 8}"].to_bytes(10, "little")
    for i in range(16):
        out[160 + 16 * i : 176 + 16 * i] = regs[f"xmm{i}"].to_bytes(16, "little")
    return bytes(out)


def _x86_unpack_fp(data: bytes) -> dict[str, int]:
    fctrl, fstat, abridged, fop = struct.unpack_from("<HHBxH", data, 0)
    (mxcsr,) = struct.unpack_from("<I", data, 24)
    top = (fstat >> 11) & 7
    regs = {"fctrl": fctrl, "fstat": fstat, "fop": fop, "mxcsr": mxcsr}
    regs["ftag"] = sum((0 if abridged >> i & 1 else 3) << (2 * i) for i in range(8))
    for i in range(8):
        regs[f"fp{(top + i) % 8}"] = int.from_bytes(data[32 + 16 * i : 42 + 16 * i], "little")
    for i in range(16):
        regs[f"xmm{i}"] = int.from_bytes(data[160 + 16 * i : 176 + 16 * i], "little")
    return regs


_FPSIMD_MAGIC = 0x46508001


def _a64_pack_fp(regs: dict[str, int]) -> bytes:
    """fpsimd_context, the first record of sigcontext.__reserved, then the terminator."""
    head = struct.pack("<IIII", _FPSIMD_MAGIC, 528, regs["fpsr"], regs["fpcr"])
    vregs = b"".join(regs[f"v{i}"].to_bytes(16, "little") for i in range(32))
    return head + vregs + bytes(8)


def _a64_unpack_fp(data: bytes) -> dict[str, int]:
    magic, _size, fpsr, fpcr = struct.unpack_from("<IIII", data, 0)
    if magic != _FPSIMD_MAGIC:
        return {}
    regs = {"fpsr": fpsr, "fpcr": fpcr}
    for i in range(32):
        regs[f"v{i}"] = int.from_bytes(data[16 + 16 * i : 32 + 16 * i], "little")
    return regs


def _rv_pack_fp(regs: dict[str, int]) -> bytes:
    """__riscv_d_ext_state: f0-f31, then fcsr."""
    names = _RISCV_FP_NAMES
    return b"".join(regs[n].to_bytes(8, "little") for n in names) + struct.pack("<I", regs["fcsr"])


def _rv_unpack_fp(data: bytes) -> dict[str, int]:
    regs = {
        n: int.from_bytes(data[8 * i : 8 * i + 8], "little") for i, n in enumerate(_RISCV_FP_NAMES)
    }
    (regs["fcsr"],) = struct.unpack_from("<I", data, 256)
    return regs


_RISCV_FP_NAMES = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
)  # fmt: skip


@dataclass(frozen=True)
class FpFrame:
    """Where and how an architecture's signal frame keeps the FP/vector registers.

    `offset` is inside the ucontext; None means a separate area below the frame whose address
    goes into the ucontext at `pointer` (x86-64's fpstate).
    """

    pack: Callable[[dict[str, int]], bytes]
    unpack: Callable[[bytes], dict[str, int]]
    size: int
    offset: int | None = None
    pointer: int | None = None


FP_FRAMES: dict[str, FpFrame] = {
    "x86_64": FpFrame(_x86_pack_fp, _x86_unpack_fp, 512, pointer=224),
    "aarch64": FpFrame(_a64_pack_fp, _a64_unpack_fp, 536, offset=464),
    "riscv64": FpFrame(_rv_pack_fp, _rv_unpack_fp, 260, offset=432),
}


def fault_siginfo(sig: int, code: int, addr: int) -> bytes:
    """The siginfo of a fault: its si_code and si_addr (the union's first field)."""
    return struct.pack("<iiiiQ", sig, 0, code, 0, addr).ljust(SIGINFO_SIZE, b"\0")
