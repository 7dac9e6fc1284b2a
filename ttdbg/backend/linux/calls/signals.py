"""Signal actions, masks, the alternate stack, sigreturn and signals sent to oneself."""

from __future__ import annotations

from ..platform import LinuxPlatform
from ..signals import NSIG, SI_USER, SIGKILL, SIGSTOP, SigAction
from .table import EINVAL, EPERM, Args, Kind, syscall


@syscall("rt_sigaction", kind=Kind.EMULATED)
def sys_rt_sigaction(p: LinuxPlatform, a: Args) -> int:
    sig, new, old = a[0], a[1], a[2]
    if not 1 <= sig <= NSIG or (new and sig in (SIGKILL, SIGSTOP)):
        return -EINVAL
    restorer = p.arch.sigaction_has_restorer
    if old:
        p.m.write(old, p.signals.action(sig).pack(restorer))
    if new:
        p.signals.actions[sig] = SigAction.unpack(p.m.read(new, 32 if restorer else 24), restorer)
    return 0


@syscall("rt_sigprocmask", kind=Kind.EMULATED)
def sys_rt_sigprocmask(p: LinuxPlatform, a: Args) -> int:
    how, new, old = a[0], a[1], a[2]
    if old:
        p.m.write(old, p.signals.blocked.to_bytes(8, "little"))
    if new:
        mask = int.from_bytes(p.m.read(new, 8), "little") & ~((1 << 8) | (1 << 18))
        if how == 0:
            p.signals.blocked |= mask
        elif how == 1:
            p.signals.blocked &= ~mask
        elif how == 2:
            p.signals.blocked = mask
        else:
            return -EINVAL
    return 0


@syscall("rt_sigreturn", kind=Kind.EMULATED)
def sys_rt_sigreturn(p: LinuxPlatform, a: Args) -> None:
    p.sigreturn()
    return None


MINSIGSTKSZ = {"x86_64": 2048, "aarch64": 5120, "riscv64": 2048}


@syscall("sigaltstack", kind=Kind.EMULATED)
def sys_sigaltstack(p: LinuxPlatform, a: Args) -> int:
    """Per thread (the scheduler swaps it with the mask); SS_ONSTACK reported while on it."""
    new, old = a[0], a[1]
    sp = p.m.reg(p.arch.sp)
    before = p.signals.altstack_image(sp)
    if new:
        if p.signals.on_altstack(sp):
            return -EPERM
        err = p.signals.set_altstack(p.m.read(new, 24), MINSIGSTKSZ[p.arch.name])
        if err:
            return err
    if old:
        p.m.write(old, before)
    return 0


def _signal_self(p: LinuxPlatform, sig: int) -> int:
    """Send `sig` to the guest (0 only checks that it exists, as on Linux)."""
    if not 0 <= sig <= NSIG:
        return -EINVAL
    if sig:
        p.kill_self(sig, SI_USER)
    return 0


# Another process, or the guest's process group beyond itself, is out of reach: the guest may
# signal only itself (a difference from Linux, where it could signal the user's processes).
@syscall("kill", kind=Kind.EMULATED)
def sys_kill(p: LinuxPlatform, a: Args) -> int:
    if a[0] not in (p.pid, 0, -1, -p.pid):
        return -EPERM
    return _signal_self(p, a[1])


@syscall("rt_sigpending", kind=Kind.EMULATED)
def sys_rt_sigpending(p: LinuxPlatform, a: Args) -> int:
    p.m.write(a[0], p.signals.pending.to_bytes(8, "little"))
    return 0
