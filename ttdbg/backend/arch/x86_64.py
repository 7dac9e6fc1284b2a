"""The x86-64 guest: register table (gdb numbering), Linux syscall ABI and numbers, CPU model."""

from __future__ import annotations

import capstone
import unicorn
from unicorn import x86_const as x

from .base import Arch, Register, SyscallAbi

_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{i}" for i in range(8, 16)))


def _reg(name: str) -> int:
    return int(getattr(x, f"UC_X86_REG_{name.upper()}"))


REGISTERS: tuple[Register, ...] = (
    *(Register(name, _reg(name), 8, num) for num, name in enumerate(_GPRS)),
    Register("rip", x.UC_X86_REG_RIP, 8, 16),
    Register("eflags", x.UC_X86_REG_EFLAGS, 4, 17),
    *(
        Register(name, _reg(name), 4, 18 + i)
        for i, name in enumerate(("cs", "ss", "ds", "es", "fs", "gs"))
    ),
    # The physical x87 registers are what a snapshot needs; gdb's st0-7 are relative to TOP
    # and are derived from these by the gdb stub.
    *(Register(f"fp{i}", x.UC_X86_REG_FP0 + i, 10, None, kind="x87") for i in range(8)),
    Register("fctrl", x.UC_X86_REG_FPCW, 4, 32),
    Register("fstat", x.UC_X86_REG_FPSW, 4, 33),
    Register("ftag", x.UC_X86_REG_FPTAG, 4, 34),
    Register("fop", x.UC_X86_REG_FOP, 4, 39),
    *(Register(f"xmm{i}", x.UC_X86_REG_XMM0 + i, 16, 40 + i) for i in range(16)),
    Register("mxcsr", x.UC_X86_REG_MXCSR, 4, 56),
    Register("fs_base", x.UC_X86_REG_FS_BASE, 8, 58),
    Register("gs_base", x.UC_X86_REG_GS_BASE, 8, 59),
)

# Linux x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl), the ones ttdbg knows
# by name; any other number is answered with ENOSYS and counted.
SYSCALL_NUMBERS: dict[str, int] = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7,
    "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13,
    "rt_sigprocmask": 14, "rt_sigreturn": 15, "ioctl": 16, "pread64": 17, "pwrite64": 18,
    "readv": 19, "writev": 20, "access": 21, "pipe": 22, "select": 23, "sched_yield": 24,
    "mremap": 25, "msync": 26, "mincore": 27, "madvise": 28, "dup": 32, "dup2": 33,
    "pause": 34, "nanosleep": 35, "getitimer": 36, "alarm": 37, "setitimer": 38, "getpid": 39,
    "sendfile": 40, "socket": 41, "connect": 42, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "exit": 60, "wait4": 61, "kill": 62, "uname": 63, "fcntl": 72, "flock": 73,
    "fsync": 74, "fdatasync": 75, "truncate": 76, "ftruncate": 77, "getdents": 78, "getcwd": 79,
    "chdir": 80, "fchdir": 81, "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86,
    "unlink": 87, "symlink": 88, "readlink": 89, "chmod": 90, "fchmod": 91, "chown": 92,
    "fchown": 93, "lchown": 94, "umask": 95, "gettimeofday": 96, "getrlimit": 97,
    "getrusage": 98, "sysinfo": 99, "times": 100, "getuid": 102, "getgid": 104, "setuid": 105,
    "setgid": 106, "geteuid": 107, "getegid": 108, "setpgid": 109, "getppid": 110,
    "getpgrp": 111, "setsid": 112, "getgroups": 115, "getpgid": 121, "getsid": 124,
    "rt_sigpending": 127, "rt_sigsuspend": 130, "sigaltstack": 131, "statfs": 137,
    "fstatfs": 138, "getpriority": 140, "sched_getparam": 143, "sched_getscheduler": 145,
    "mlock": 149, "munlock": 150, "prctl": 157, "arch_prctl": 158, "setrlimit": 160,
    "sync": 162, "gettid": 186, "tkill": 200, "time": 201, "futex": 202,
    "sched_setaffinity": 203, "sched_getaffinity": 204, "getdents64": 217,
    "set_tid_address": 218, "fadvise64": 221, "clock_gettime": 228, "clock_getres": 229,
    "clock_nanosleep": 230, "exit_group": 231, "tgkill": 234, "openat": 257, "mkdirat": 258,
    "newfstatat": 262, "unlinkat": 263, "renameat": 264, "readlinkat": 267, "fchmodat": 268,
    "faccessat": 269, "pselect6": 270, "ppoll": 271, "set_robust_list": 273,
    "get_robust_list": 274, "utimensat": 280, "dup3": 292, "pipe2": 293, "prlimit64": 302,
    "getcpu": 309, "getrandom": 318, "memfd_create": 319, "execveat": 322, "statx": 332,
    "rseq": 334, "clone3": 435, "faccessat2": 439,
}  # fmt: skip

# AT_HWCAP on x86-64 is CPUID.1:EDX; this is the value for the fixed guest CPU model below.
_HWCAP = 0x078BFBFD

ARCH = Arch(
    name="x86_64",
    elf_machine="EM_X86_64",
    elf_class=64,
    uc_arch=unicorn.UC_ARCH_X86,
    uc_mode=unicorn.UC_MODE_64,
    # Fixed, never the host's, so a recording sees the same CPUID wherever it replays. The
    # older models leave SSE disabled in Unicorn; this one has SSE4.2 and no AVX (TCG has none).
    cpu_model=x.UC_CPU_X86_SANDYBRIDGE,
    cs_arch=capstone.CS_ARCH_X86,
    cs_mode=capstone.CS_MODE_64,
    registers=REGISTERS,
    pc="rip",
    sp="rsp",
    syscall_abi=SyscallAbi("rax", ("rdi", "rsi", "rdx", "r10", "r8", "r9"), "rax"),
    syscall_numbers=SYSCALL_NUMBERS,
    platform="x86_64",
    hwcap=_HWCAP,
    hwcap2=0x2,  # HWCAP2_FSGSBASE, as Linux reports it
    stack_top=0x7FFFFFFFF000,
    pie_base=0x555555554000,
    mmap_base=0x7FFFF7FFF000,
)
