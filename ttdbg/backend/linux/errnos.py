"""Linux errno values, named once (the same on x86-64, AArch64 and RISC-V, and in gdb's
File-I/O protocol for the ones it shares)."""

from __future__ import annotations

EPERM = 1
ENOENT = 2
ESRCH = 3
EINTR = 4
E2BIG = 7
EBADF = 9
ECHILD = 10
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EFAULT = 14
EXDEV = 18
ENODEV = 19
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
EMFILE = 24
ENOTTY = 25
ESPIPE = 29
EPIPE = 32
ERANGE = 34
ENOLCK = 37
ENOSYS = 38
ENOTSOCK = 88
ENOPROTOOPT = 92
ESOCKTNOSUPPORT = 94
EOPNOTSUPP = 95
EAFNOSUPPORT = 97
ENOBUFS = 105
