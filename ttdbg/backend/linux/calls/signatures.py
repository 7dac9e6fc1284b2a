"""Each syscall's parameters by C type (include/linux/syscalls.h), and their decoders.

The kernel reads an `int` parameter from the low 32 bits of its register, sign-extended; a
`umode_t` from the low 16; a pointer, `size_t` or `long` from all 64. Decoding here, from the
declared types, means no handler guesses a width or a sign.
"""

from __future__ import annotations

from collections.abc import Callable

# width in bits, signed
_INT = (32, True)
_UINT = (32, False)
_LONG = (64, True)
_ULONG = (64, False)
_MODE = (16, False)

C_TYPES: dict[str, tuple[int, bool]] = {
    "int": _INT, "pid_t": _INT, "clockid_t": _INT, "timer_t": _INT, "rwf_t": _INT,
    "unsigned int": _UINT, "unsigned": _UINT, "uid_t": _UINT, "gid_t": _UINT, "u32": _UINT,
    "qid_t": _UINT,
    "long": _LONG, "off_t": _LONG, "loff_t": _LONG, "ssize_t": _LONG, "time_t": _LONG,
    "unsigned long": _ULONG, "size_t": _ULONG, "u64": _ULONG, "pointer": _ULONG,
    "umode_t": _MODE,
}  # fmt: skip

# Parameter lists as the kernel declares them (names kept for the reader; `*` marks pointers).
SIGNATURES: dict[str, str] = {
    "read": "unsigned int fd, char *buf, size_t count",
    "write": "unsigned int fd, const char *buf, size_t count",
    "open": "const char *filename, int flags, umode_t mode",
    "openat": "int dfd, const char *filename, int flags, umode_t mode",
    "creat": "const char *pathname, umode_t mode",
    "close": "unsigned int fd",
    "stat": "const char *filename, struct stat *statbuf",
    "lstat": "const char *filename, struct stat *statbuf",
    "fstat": "unsigned int fd, struct stat *statbuf",
    "newfstatat": "int dfd, const char *filename, struct stat *statbuf, int flag",
    "statx": "int dfd, const char *path, unsigned flags, unsigned mask, struct statx *buffer",
    "poll": "struct pollfd *ufds, unsigned int nfds, int timeout",
    "ppoll": "struct pollfd *ufds, unsigned int nfds, struct timespec *tsp, "
    "const sigset_t *sigmask, size_t sigsetsize",
    "select": "int n, fd_set *inp, fd_set *outp, fd_set *exp, struct timeval *tvp",
    "pselect6": "int n, fd_set *inp, fd_set *outp, fd_set *exp, struct timespec *tsp, void *sig",
    "lseek": "unsigned int fd, off_t offset, unsigned int whence",
    "mmap": "unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags, "
    "unsigned long fd, unsigned long off",
    "mprotect": "unsigned long start, size_t len, unsigned long prot",
    "munmap": "unsigned long addr, size_t len",
    "mremap": "unsigned long addr, unsigned long old_len, unsigned long new_len, "
    "unsigned long flags, unsigned long new_addr",
    "brk": "unsigned long brk",
    "msync": "unsigned long start, size_t len, int flags",
    "mincore": "unsigned long start, size_t len, unsigned char *vec",
    "madvise": "unsigned long start, size_t len, int behavior",
    "mlock": "unsigned long start, size_t len",
    "munlock": "unsigned long start, size_t len",
    "rt_sigaction": "int sig, const struct sigaction *act, struct sigaction *oact, "
    "size_t sigsetsize",
    "rt_sigprocmask": "int how, sigset_t *set, sigset_t *oset, size_t sigsetsize",
    "rt_sigreturn": "",
    "rt_sigpending": "sigset_t *set, size_t sigsetsize",
    "rt_sigsuspend": "sigset_t *unewset, size_t sigsetsize",
    "sigaltstack": "const stack_t *uss, stack_t *uoss",
    "ioctl": "unsigned int fd, unsigned int cmd, unsigned long arg",
    "pread64": "unsigned int fd, char *buf, size_t count, loff_t pos",
    "pwrite64": "unsigned int fd, const char *buf, size_t count, loff_t pos",
    "readv": "unsigned long fd, const struct iovec *vec, unsigned long vlen",
    "writev": "unsigned long fd, const struct iovec *vec, unsigned long vlen",
    "preadv": "unsigned long fd, const struct iovec *vec, unsigned long vlen, "
    "unsigned long pos_l, unsigned long pos_h",
    "pwritev": "unsigned long fd, const struct iovec *vec, unsigned long vlen, "
    "unsigned long pos_l, unsigned long pos_h",
    "preadv2": "unsigned long fd, const struct iovec *vec, unsigned long vlen, "
    "unsigned long pos_l, unsigned long pos_h, rwf_t flags",
    "pwritev2": "unsigned long fd, const struct iovec *vec, unsigned long vlen, "
    "unsigned long pos_l, unsigned long pos_h, rwf_t flags",
    "copy_file_range": "int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, "
    "unsigned int flags",
    "access": "const char *filename, int mode",
    "faccessat": "int dfd, const char *filename, int mode",
    "faccessat2": "int dfd, const char *filename, int mode, int flags",
    "pipe": "int *fildes",
    "pipe2": "int *fildes, int flags",
    "sched_yield": "",
    "dup": "unsigned int fildes",
    "dup2": "unsigned int oldfd, unsigned int newfd",
    "dup3": "unsigned int oldfd, unsigned int newfd, int flags",
    "pause": "",
    "nanosleep": "struct timespec *rqtp, struct timespec *rmtp",
    "clock_nanosleep": "clockid_t which_clock, int flags, const struct timespec *rqtp, "
    "struct timespec *rmtp",
    "getitimer": "int which, struct itimerval *value",
    "setitimer": "int which, struct itimerval *value, struct itimerval *ovalue",
    "alarm": "unsigned int seconds",
    "getpid": "",
    "getppid": "",
    "gettid": "",
    "getpgrp": "",
    "getpgid": "pid_t pid",
    "getsid": "pid_t pid",
    "setpgid": "pid_t pid, pid_t pgid",
    "setsid": "",
    "sendfile": "int out_fd, int in_fd, loff_t *offset, size_t count",
    "socket": "int family, int type, int protocol",
    "connect": "int fd, struct sockaddr *uservaddr, int addrlen",
    "clone": "unsigned long clone_flags, unsigned long newsp, int *parent_tidptr, "
    "int *child_tidptr, unsigned long tls",
    "clone3": "struct clone_args *uargs, size_t size",
    "fork": "",
    "vfork": "",
    "execve": "const char *filename, const char *const *argv, const char *const *envp",
    "execveat": "int dfd, const char *filename, const char *const *argv, "
    "const char *const *envp, int flags",
    "exit": "int error_code",
    "exit_group": "int error_code",
    "wait4": "pid_t upid, int *stat_addr, int options, struct rusage *ru",
    "kill": "pid_t pid, int sig",
    "tkill": "pid_t pid, int sig",
    "tgkill": "pid_t tgid, pid_t pid, int sig",
    "uname": "struct new_utsname *name",
    "fcntl": "unsigned int fd, unsigned int cmd, unsigned long arg",
    "flock": "unsigned int fd, unsigned int cmd",
    "socketpair": "int family, int type, int protocol, int *usockvec",
    "getsockname": "int fd, struct sockaddr *usockaddr, int *usockaddr_len",
    "getpeername": "int fd, struct sockaddr *usockaddr, int *usockaddr_len",
    "sendto": "int fd, void *buff, size_t len, unsigned int flags, struct sockaddr *addr, "
    "int addr_len",
    "recvfrom": "int fd, void *ubuf, size_t size, unsigned int flags, struct sockaddr *addr, "
    "int *addr_len",
    "shutdown": "int fd, int how",
    "bind": "int fd, struct sockaddr *umyaddr, int addrlen",
    "listen": "int fd, int backlog",
    "accept": "int fd, struct sockaddr *upeer_sockaddr, int *upeer_addrlen",
    "accept4": "int fd, struct sockaddr *upeer_sockaddr, int *upeer_addrlen, int flags",
    "setsockopt": "int fd, int level, int optname, char *optval, int optlen",
    "getsockopt": "int fd, int level, int optname, char *optval, int *optlen",
    "sendmsg": "int fd, struct user_msghdr *msg, unsigned int flags",
    "recvmsg": "int fd, struct user_msghdr *msg, unsigned int flags",
    "fallocate": "int fd, int mode, loff_t offset, loff_t len",
    "sync_file_range": "int fd, loff_t offset, loff_t nbytes, unsigned int flags",
    "syncfs": "int fd",
    "readahead": "int fd, loff_t offset, size_t count",
    "fsync": "unsigned int fd",
    "fdatasync": "unsigned int fd",
    "truncate": "const char *path, long length",
    "ftruncate": "unsigned int fd, off_t length",
    "fadvise64": "int fd, loff_t offset, size_t len, int advice",
    "getdents64": "unsigned int fd, struct linux_dirent64 *dirent, unsigned int count",
    "getcwd": "char *buf, unsigned long size",
    "chdir": "const char *filename",
    "fchdir": "unsigned int fd",
    "rename": "const char *oldname, const char *newname",
    "renameat": "int olddfd, const char *oldname, int newdfd, const char *newname",
    "renameat2": "int olddfd, const char *oldname, int newdfd, const char *newname, "
    "unsigned int flags",
    "mkdir": "const char *pathname, umode_t mode",
    "mkdirat": "int dfd, const char *pathname, umode_t mode",
    "rmdir": "const char *pathname",
    "link": "const char *oldname, const char *newname",
    "linkat": "int olddfd, const char *oldname, int newdfd, const char *newname, int flags",
    "unlink": "const char *pathname",
    "unlinkat": "int dfd, const char *pathname, int flag",
    "symlink": "const char *old, const char *new",
    "symlinkat": "const char *oldname, int newdfd, const char *newname",
    "readlink": "const char *path, char *buf, int bufsiz",
    "getxattr": "const char *pathname, const char *name, void *value, size_t size",
    "lgetxattr": "const char *pathname, const char *name, void *value, size_t size",
    "fgetxattr": "int fd, const char *name, void *value, size_t size",
    "listxattr": "const char *pathname, char *list, size_t size",
    "llistxattr": "const char *pathname, char *list, size_t size",
    "flistxattr": "int fd, char *list, size_t size",
    "setxattr": "const char *pathname, const char *name, const void *value, size_t size, int flags",
    "lsetxattr": "const char *path, const char *name, const void *value, size_t size, int flags",
    "fsetxattr": "int fd, const char *name, const void *value, size_t size, int flags",
    "removexattr": "const char *pathname, const char *name",
    "lremovexattr": "const char *pathname, const char *name",
    "fremovexattr": "int fd, const char *name",
    "readlinkat": "int dfd, const char *path, char *buf, int bufsiz",
    "chmod": "const char *filename, umode_t mode",
    "fchmod": "unsigned int fd, umode_t mode",
    "fchmodat": "int dfd, const char *filename, umode_t mode",
    "chown": "const char *filename, uid_t user, gid_t group",
    "lchown": "const char *filename, uid_t user, gid_t group",
    "fchown": "unsigned int fd, uid_t user, gid_t group",
    "fchownat": "int dfd, const char *filename, uid_t user, gid_t group, int flag",
    "utime": "char *filename, struct utimbuf *times",
    "utimes": "char *filename, struct timeval *utimes",
    "futimesat": "int dfd, const char *filename, struct timeval *utimes",
    "utimensat": "int dfd, const char *filename, struct timespec *utimes, int flags",
    "statfs": "const char *path, struct statfs *buf",
    "fstatfs": "unsigned int fd, struct statfs *buf",
    "umask": "int mask",
    "gettimeofday": "struct timeval *tv, struct timezone *tz",
    "getrlimit": "unsigned int resource, struct rlimit *rlim",
    "setrlimit": "unsigned int resource, struct rlimit *rlim",
    "prlimit64": "pid_t pid, unsigned int resource, const struct rlimit64 *new_rlim, "
    "struct rlimit64 *old_rlim",
    "getrusage": "int who, struct rusage *ru",
    "sysinfo": "struct sysinfo *info",
    "times": "struct tms *tbuf",
    "getuid": "",
    "getgid": "",
    "geteuid": "",
    "getegid": "",
    "setuid": "uid_t uid",
    "setgid": "gid_t gid",
    "getgroups": "int gidsetsize, gid_t *grouplist",
    "getpriority": "int which, int who",
    "setpriority": "int which, int who, int niceval",
    "sched_getparam": "pid_t pid, struct sched_param *param",
    "sched_get_priority_max": "int policy",
    "sched_get_priority_min": "int policy",
    "epoll_create": "int size",
    "epoll_create1": "int flags",
    "epoll_ctl": "int epfd, int op, int fd, struct epoll_event *event",
    "epoll_wait": "int epfd, struct epoll_event *events, int maxevents, int timeout",
    "epoll_pwait": "int epfd, struct epoll_event *events, int maxevents, int timeout, "
    "const sigset_t *sigmask, size_t sigsetsize",
    "epoll_pwait2": "int epfd, struct epoll_event *events, int maxevents, "
    "const struct __kernel_timespec *timeout, const sigset_t *sigmask, size_t sigsetsize",
    "sched_getscheduler": "pid_t pid",
    "sched_setaffinity": "pid_t pid, unsigned int len, unsigned long *user_mask_ptr",
    "sched_getaffinity": "pid_t pid, unsigned int len, unsigned long *user_mask_ptr",
    "prctl": "int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, "
    "unsigned long arg5",
    "arch_prctl": "int option, unsigned long arg2",
    "sync": "",
    "time": "time_t *tloc",
    "futex": "u32 *uaddr, int op, u32 val, const struct timespec *utime, u32 *uaddr2, u32 val3",
    "set_tid_address": "int *tidptr",
    "set_robust_list": "struct robust_list_head *head, size_t len",
    "get_robust_list": "int pid, struct robust_list_head **head_ptr, size_t *len_ptr",
    "clock_gettime": "clockid_t which_clock, struct timespec *tp",
    "clock_getres": "clockid_t which_clock, struct timespec *tp",
    "getcpu": "unsigned *cpu, unsigned *node, struct getcpu_cache *cache",
    "getrandom": "char *buf, size_t count, unsigned int flags",
    "memfd_create": "const char *uname, unsigned int flags",
    "rseq": "struct rseq *rseq, u32 rseq_len, int flags, u32 sig",
}


def _param_type(param: str) -> tuple[int, bool]:
    if "*" in param:
        return C_TYPES["pointer"]
    words = param.replace("const ", "").split()[:-1]
    return C_TYPES[" ".join(words)]


def param_types(name: str) -> tuple[tuple[int, bool], ...] | None:
    """(width, signed) of each parameter of `name`, or None when it has no signature here."""
    sig = SIGNATURES.get(name)
    if sig is None:
        return None
    return tuple(_param_type(p.strip()) for p in sig.split(",") if p.strip())


def decoder(name: str) -> Callable[[tuple[int, ...]], tuple[int, ...]] | None:
    """A function turning the raw argument registers into the C values `name` declares."""
    types = param_types(name)
    if types is None:
        return None
    if all(t == _ULONG for t in types):
        return None  # every register as it is
    fields = [((1 << w) - 1, 1 << (w - 1) if s else 0) for w, s in types]

    def decode(raw: tuple[int, ...]) -> tuple[int, ...]:
        # (value & mask) minus twice the sign bit when it is set: sign extension.
        return tuple([(v & m) - ((v & s) << 1) for (m, s), v in zip(fields, raw, strict=False)])

    return decode
