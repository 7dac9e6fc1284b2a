"""The x86-64 guest: register table (gdb numbering), Linux syscall ABI and numbers, CPU model."""

from __future__ import annotations

import capstone
import unicorn
from unicorn import x86_const as x

from .base import Arch, GdbRegister, Register, SyscallAbi
from .counters import X86_COUNTER_PATTERNS, Counter, x86_counter_reads

_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{i}" for i in range(8, 16)))


def _reg(name: str) -> int:
    return int(getattr(x, f"UC_X86_REG_{name.upper()}"))


REGISTERS: tuple[Register, ...] = (
    *(Register(name, _reg(name), 8) for name in _GPRS),
    Register("rip", x.UC_X86_REG_RIP, 8),
    Register("eflags", x.UC_X86_REG_EFLAGS, 4),
    *(Register(name, _reg(name), 4) for name in ("cs", "ss", "ds", "es", "fs", "gs")),
    # The physical x87 registers are what a snapshot needs; gdb's st0-7 are relative to TOP
    # and are derived from these by the gdb stub.
    *(Register(f"fp{i}", x.UC_X86_REG_FP0 + i, 10, kind="x87") for i in range(8)),
    Register("fctrl", x.UC_X86_REG_FPCW, 4),
    Register("fstat", x.UC_X86_REG_FPSW, 4),
    Register("ftag", x.UC_X86_REG_FPTAG, 4),
    Register("fop", x.UC_X86_REG_FOP, 4),
    *(Register(f"xmm{i}", x.UC_X86_REG_XMM0 + i, 16) for i in range(16)),
    Register("mxcsr", x.UC_X86_REG_MXCSR, 4),
    Register("fs_base", x.UC_X86_REG_FS_BASE, 8),
    Register("gs_base", x.UC_X86_REG_GS_BASE, 8),
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
    "utime": 132, "utimes": 235, "fchownat": 260, "futimesat": 261, "linkat": 265,
    "symlinkat": 266, "renameat2": 316,
    "setpriority": 141, "sched_get_priority_max": 146, "sched_get_priority_min": 147,
    "epoll_create": 213, "epoll_wait": 232, "epoll_ctl": 233, "epoll_pwait": 281,
    "epoll_create1": 291, "epoll_pwait2": 441,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "getxattr": 191, "lgetxattr": 192,
    "fgetxattr": 193, "listxattr": 194, "llistxattr": 195, "flistxattr": 196,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "readahead": 187,
    "sync_file_range": 277, "fallocate": 285, "syncfs": 306, "sendto": 44, "recvfrom": 45,
    "shutdown": 48, "getsockname": 51, "getpeername": 52, "socketpair": 53,
    "accept": 43, "sendmsg": 46, "recvmsg": 47, "bind": 49, "listen": 50, "setsockopt": 54,
    "getsockopt": 55, "accept4": 288,
    "preadv": 295, "pwritev": 296, "copy_file_range": 326, "preadv2": 327, "pwritev2": 328,
}  # fmt: skip


def _st(i: int) -> GdbRegister:
    def value(regs: dict[str, int]) -> int:
        top = (regs["fstat"] >> 11) & 7
        return regs[f"fp{(top + i) % 8}"]

    return GdbRegister(f"st{i}", 80, "i387_ext", _CORE, compute=value, group="float")


_CORE, _SSE = "org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse"
_LINUX, _SEGMENTS = "org.gnu.gdb.i386.linux", "org.gnu.gdb.i386.segments"
_PTR_TYPES = {"rbp": "data_ptr", "rsp": "data_ptr", "rip": "code_ptr"}

# gdb's amd64 layout: core (0-39), sse (40-56), linux (57), segments (58-59).
GDB_REGISTERS: tuple[GdbRegister, ...] = (
    *(GdbRegister(n, 64, _PTR_TYPES.get(n, "int64"), _CORE, n) for n in (*_GPRS, "rip")),
    GdbRegister("eflags", 32, "i386_eflags", _CORE, "eflags"),
    *(GdbRegister(n, 32, "int32", _CORE, n) for n in ("cs", "ss", "ds", "es", "fs", "gs")),
    *(_st(i) for i in range(8)),
    *(
        GdbRegister(n, 32, "int", _CORE, src, group="float")
        for n, src in (
            ("fctrl", "fctrl"), ("fstat", "fstat"), ("ftag", "ftag"), ("fiseg", None),
            ("fioff", None), ("foseg", None), ("fooff", None), ("fop", "fop"),
        )
    ),
    *(GdbRegister(f"xmm{i}", 128, "vec128", _SSE, f"xmm{i}") for i in range(16)),
    GdbRegister("mxcsr", 32, "i386_mxcsr", _SSE, "mxcsr", group="vector"),
    GdbRegister("orig_rax", 64, "int", _LINUX),
    GdbRegister("fs_base", 64, "int", _SEGMENTS, "fs_base"),
    GdbRegister("gs_base", 64, "int", _SEGMENTS, "gs_base"),
)  # fmt: skip


def _flags(name: str, fields: str) -> str:
    body = "".join(
        f'<field name="{f}" start="{bit}" end="{bit}"/>'
        for f, bit in (pair.split("=") for pair in fields.split())
    )
    return f'<flags id="{name}" size="4">{body}</flags>'


_VEC128 = (
    '<vector id="v4f" type="ieee_single" count="4"/>'
    '<vector id="v2d" type="ieee_double" count="2"/>'
    '<vector id="v16i8" type="int8" count="16"/>'
    '<vector id="v8i16" type="int16" count="8"/>'
    '<vector id="v4i32" type="int32" count="4"/>'
    '<vector id="v2i64" type="int64" count="2"/>'
    '<union id="vec128"><field name="v4_float" type="v4f"/>'
    '<field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>'
    '<field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>'
    '<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>'
)

GDB_FEATURE_TYPES = {
    _CORE: _flags(
        "i386_eflags",
        "CF=0 PF=2 AF=4 ZF=6 SF=7 TF=8 IF=9 DF=10 OF=11 NT=14 RF=16 VM=17 AC=18 VIF=19 VIP=20"
        " ID=21",
    ),
    _SSE: _VEC128
    + _flags(
        "i386_mxcsr",
        "IE=0 DE=1 ZE=2 OE=3 UE=4 PE=5 DAZ=6 IM=7 DM=8 ZM=9 OM=10 UM=11 PM=12 FZ=15",
    ),
}

# AT_HWCAP on x86-64 is CPUID.1:EDX; this is the value for the fixed guest CPU model below.
_HWCAP = 0x078BFBFD

# The kernel's init_fpstate (FNINIT plus MXCSR_DEFAULT): 64-bit precision, round to nearest,
# every exception masked, the x87 stack empty. Unicorn starts FCW and MXCSR at 0 (single
# precision once a fldcw reloads it) and every x87 register tagged valid.
_FP_INIT = {"fctrl": 0x037F, "fstat": 0, "ftag": 0xFFFF, "fop": 0, "mxcsr": 0x1F80}
# A signal handler starts from init_fpstate restored whole: the registers are zero too.
_FP_INIT_WITH_REGISTERS = {
    **_FP_INIT,
    **{f"fp{i}": 0 for i in range(8)},
    **{f"xmm{i}": 0 for i in range(16)},
}

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
    gdb_architecture="i386:x86-64",
    gdb_registers=GDB_REGISTERS,
    gdb_expedite=("rbp", "rsp", "rip"),
    gdb_feature_types=GDB_FEATURE_TYPES,
    initial_registers=_FP_INIT,
    signal_entry_registers=_FP_INIT_WITH_REGISTERS,
    # Vectors reaching the interrupt hook: #DE, #DB, #BP, #UD, #GP.
    interrupt_signals={0: 8, 1: 5, 3: 5, 6: 4, 13: 11},
    # #DE: FPE_INTDIV at the instruction, #UD: ILL_ILLOPN there; int3 and #GP: SI_KERNEL.
    interrupt_siginfo={0: (1, True), 6: (2, True)},
    illegal_code=2,  # ILL_ILLOPN, as do_error_trap gives for #UD
    canonical_bits=48,
    syscall_insn=x.UC_X86_INS_SYSCALL,
    # A fixed 2 GHz time-stamp counter (the host's monotonic clock scaled while recording).
    counter_hz={Counter.TSC: 2_000_000_000, Counter.TSCP: 2_000_000_000},
    counter_reads=x86_counter_reads,
    counter_patterns=X86_COUNTER_PATTERNS,
    syscall_insn_size=2,
    unknown_interrupt_signal=11,
    tls_register="fs_base",
    clone_tls_arg=4,
    clone_ctid_arg=3,
    display_registers=(
        *_GPRS,
        "rip",
        "eflags",
        "fs_base",
        "gs_base",
        "mxcsr",
        "xmm0",
        "xmm1",
    ),
)
