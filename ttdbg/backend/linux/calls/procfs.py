"""The guest's own /proc entries, built from its state; the recorder's stay out of reach.

`/proc/self`, `/proc/thread-self`, `/proc/<guest pid>` and `/dev/fd`, `/dev/std*` name the guest
here, as they would natively: `cmdline`, `environ`, `comm`, `maps`, `auxv` come from its
memory and platform state, `status`, `stat` and `statm` from it and what it inherits
(procstatus), `mountinfo` and `mounts` (and `/proc/mounts`) are the recorder's, which runs in
the mount namespace the guest would (read at open, logged), `exe`, `cwd` and `fd/N` read as
the links they are, the `fd` directory lists the guest's descriptors, and `mem` is refused
with EACCES. Any other entry of the guest's /proc directory is refused too (EACCES), never
served from the recorder. Whatever a path reaches through symlinks or directory fds is checked
on the host (`HostIO.contain`); one that leads into the recorder's own entry through a symlink
(/etc/mtab) is served the guest's entry there. Its entries' times and owner are those of the
recorder's /proc/self. The CPU files under /sys say one CPU, as sched_getaffinity does, and
/proc/cpuinfo that CPU of the guest's fixed model (cpuinfo).
"""

from __future__ import annotations

import os
import posixpath
import re
import struct
from dataclasses import dataclass

from ..cpuinfo import CPUINFO
from ..errnos import EACCES, EBADF, EINVAL, ENOENT, ENOLCK, ENOTDIR, ESPIPE
from ..fdtable import OpenFile
from ..platform import LinuxPlatform
from ..structs import pack_dirents
from ..threads import State
from . import procstatus
from .table import F_GETLK, F_OFD_GETLK, F_SETLK, F_SETLKW, O_ACCMODE, O_RDONLY

PROC_DEV = 0x16  # /proc's device number on a typical host (0:22)
PROC_FILE, PROC_DIR = "proc", "procdir"
KINDS = (PROC_FILE, PROC_DIR)
PROC_FILE_MODE, PROC_DIR_MODE, PROC_LINK_MODE = 0o100444, 0o040555, 0o120777
CPU_LISTS = {f"/sys/devices/system/cpu/{name}": "0\n" for name in ("online", "possible", "present")}
FILES = ("cmdline", "environ", "comm", "status", "stat", "statm", "maps", "auxv", "mountinfo",
         "mounts")  # fmt: skip
CPUINFO_PATH = "/proc/cpuinfo"  # the guest's CPU model, never the host's CPUs
# Paths outside /proc/self that are links to entries in it.
ALIASES = {"/proc/mounts": "mounts"}
LINKS = ("exe", "cwd", "root")
_SELF = re.compile(r"^/proc/(self|thread-self|\d+)(?:/task/(\d+))?(?:/(.*))?$")
_DEV_FD = re.compile(r"^/dev/(?:fd/(\d+)|(stdin|stdout|stderr))(/.*)?$")
_STDIO = {"stdin": 0, "stdout": 1, "stderr": 2}
_TASK_COMM = re.compile(r"^task/(\d+)/comm$")


@dataclass(frozen=True)
class ProcPath:
    """A path inside the guest's own /proc directory: `entry` is what follows `/proc/self/`."""

    entry: str


def normalize(p: LinuxPlatform, path: str, base: OpenFile | None) -> str:
    """The absolute form of a path as far as the guest's own state tells (no symlinks read)."""
    if not path.startswith("/"):
        if base is None:
            return path  # relative to the cwd: the host check covers it
        path = f"{base.path}/{path}"
    return posixpath.normpath(path)


def classify(p: LinuxPlatform, path: str) -> ProcPath | str | None:
    """ProcPath for the guest's own /proc entries, the text of an emulated /sys file, else None."""
    if path in CPU_LISTS:
        return CPU_LISTS[path]
    if path == CPUINFO_PATH:
        return CPUINFO[p.arch.name]
    if path in ALIASES:
        return ProcPath(ALIASES[path])
    dev = _DEV_FD.match(path)
    if dev:
        fd = int(dev.group(1)) if dev.group(1) else _STDIO[dev.group(2)]
        return ProcPath(f"fd/{fd}{dev.group(3) or ''}")
    m = _SELF.match(path)
    if m is None:
        return None
    who = m.group(1)
    if who.isdigit() and int(who) != p.pid:
        return None  # another process: the host decides (and refuses the recorder's own)
    task = int(m.group(2)) if m.group(2) is not None else None
    if who == "thread-self" and task is None:
        task = p.threads.current
    if task is not None and task != p.pid:
        # Another thread of the guest: its name; no such thread, or any other entry: ENOENT.
        thread = p.threads.table.get(task)
        alive = thread is not None and thread.state != State.EXITED
        if alive and m.group(3) == "comm":
            return ProcPath(f"task/{task}/comm")
        return ProcPath("\0missing")
    return ProcPath(m.group(3) or "")


def _memory(p: LinuxPlatform, start: int, end: int) -> bytes:
    return p.m.read(start, end - start) if end > start else b""


def _maps(p: LinuxPlatform, exe: str) -> str:
    program = [(s.vaddr & ~0xFFF, s.vaddr + s.memsz) for s in p.program.segments]
    lines = []
    stack_top = p.arch.stack_top
    for start, end, perms in p.m.regions():
        name = ""
        if any(a < end and start < b for a, b in program):
            name = exe
        elif p.mem.brk_start <= start and end <= (max(p.mem.brk, p.mem.brk_start) + 0xFFF) & ~0xFFF:
            name = "[heap]"
        elif end == stack_top:
            name = "[stack]"
        flags = "".join(c if perms & bit else "-" for c, bit in (("r", 1), ("w", 2), ("x", 4)))
        flags += "s" if p.mem.shared.overlapping(start, end) else "p"
        # As show_map_vma: the header ends with a space, a name is padded to column 73.
        line = f"{start:08x}-{end:08x} {flags} 00000000 00:00 0 "
        lines.append(f"{line:<72} {name}" if name else line)
    return "".join(line + "\n" for line in lines)


def _exe(p: LinuxPlatform) -> str:
    result, data = p.host_call(lambda: (0, p.live.program_path.encode()))
    return data.decode(errors="surrogateescape") if result == 0 else ""


MOUNT_TABLES = frozenset(("mountinfo", "mounts"))


def file_text(p: LinuxPlatform, entry: str) -> bytes | None:
    """The content of a /proc/self file, generated now as Linux does at open; None: no such."""
    if entry == "cmdline":
        return _memory(p, *p.arg_range)
    if entry == "environ":
        return _memory(p, *p.env_range)
    if entry == "auxv":
        return p.auxv
    if entry == "comm":
        return (p.comm + "\n").encode(errors="surrogateescape")
    task = _TASK_COMM.match(entry)
    if task:
        return (p.threads.table[int(task.group(1))].name + "\n").encode(errors="surrogateescape")
    if entry == "maps":
        return _maps(p, _exe(p)).encode(errors="surrogateescape")
    if entry == "status":
        text = procstatus.status_text(p, procstatus.host_process(p))
        return text.encode(errors="surrogateescape")
    if entry == "stat":
        return procstatus.stat_text(p, procstatus.host_process(p)).encode(errors="surrogateescape")
    if entry in MOUNT_TABLES:
        result, data = p.host_call(lambda: p.live.mount_table(entry))
        return data if result >= 0 else None
    if entry == "statm":
        return procstatus.statm_text(p).encode()
    return None


# Inode numbers of the emulated entries: distinct, as Linux's are (find and du take two
# directories with one inode for a file system loop). /proc's own root is inode 1.
PROC_ROOT_INO, SELF_INO, FD_DIR_INO, SYS_FILE_INO = 1, 2, 40, 50


def inode(target: ProcPath | str) -> int:
    """The inode number stat shows for an emulated entry (a /sys CPU list: one for both)."""
    if isinstance(target, str):
        return SYS_FILE_INO
    entry = target.entry
    if entry == "":
        return SELF_INO
    if entry == "fd":
        return FD_DIR_INO
    if entry in FILES:
        return 10 + FILES.index(entry)
    if entry in LINKS:
        return 30 + LINKS.index(entry)
    if entry.startswith("fd/") and entry[3:].isdigit():
        return 100 + int(entry[3:])
    task = _TASK_COMM.match(entry)
    return 1_000_000 + int(task.group(1)) if task else SELF_INO


def dir_entries(p: LinuxPlatform, entry: str) -> list[tuple[int, int, str]] | None:
    """(inode, d_type, name) of an emulated /proc directory, or None when it is not one."""
    dt_dir, dt_reg, dt_lnk = 4, 8, 10
    if entry == "fd":
        dots = [(FD_DIR_INO, dt_dir, "."), (SELF_INO, dt_dir, "..")]
        return dots + [(fd + 100, dt_lnk, str(fd)) for fd in sorted(p.fds.files)]
    if entry == "":
        dots = [(SELF_INO, dt_dir, "."), (PROC_ROOT_INO, dt_dir, "..")]
        files = [(i + 10, dt_reg, name) for i, name in enumerate(FILES)]
        links = [(i + 30, dt_lnk, name) for i, name in enumerate(LINKS)]
        return dots + files + links + [(FD_DIR_INO, dt_dir, "fd")]
    return None


def link_target(p: LinuxPlatform, entry: str) -> bytes | int:
    """What readlink shows for /proc/self/exe, cwd, root and fd/N; a negative errno else."""
    if entry == "exe":
        return _exe(p).encode(errors="surrogateescape")
    if entry == "root":
        return b"/"
    if entry == "cwd":
        result, data = p.host_call(lambda: p.live.getcwd())
        return data if result >= 0 else result
    if entry.startswith("fd/") and entry[3:].isdigit():
        f = p.fds.get(int(entry[3:]))
        if f is None:
            return -ENOENT
        if f.kind in (PROC_FILE, PROC_DIR):
            return f.path.encode(errors="surrogateescape")
        result, data = p.host_call(lambda: p.live.fd_link(f))
        return data if result >= 0 else result
    if entry.startswith("\0"):
        return -ENOENT
    return -EACCES


# Entries Linux makes from the process's state when a read starts at their beginning
# (seq_file's show, the cmdline and environ reads), not at open: what the guest changed
# since (its signal mask and handlers, name, threads, mappings) shows in a read after it.
REGENERATED = frozenset(("status", "stat", "statm", "maps", "comm", "cmdline", "environ"))


def refresh(p: LinuxPlatform, f: OpenFile, offset: int | None) -> None:
    """Before a read of an emulated file at `offset` (None: its own position): its text
    made again from the guest's state now when the read starts at the beginning."""
    start = f.offset if offset is None else offset
    if start != 0 or f.kind != PROC_FILE:
        return
    target = classify(p, f.path)
    if not isinstance(target, ProcPath):
        return
    entry = target.entry
    if entry in REGENERATED or _TASK_COMM.match(entry):
        data = file_text(p, entry)
        if data is not None:
            f.data = data.decode("latin-1")


def read(f: OpenFile, count: int, offset: int | None = None) -> bytes:
    """Read an emulated file: at `offset`, or at its own position, which then moves on."""
    data = f.data.encode("latin-1")
    start = f.offset if offset is None else offset
    out = data[start : start + count]
    if offset is None:
        f.offset += len(out)
    return out


# The entries Linux serves through seq_file: no SEEK_END, no pwrite (ESPIPE).
SEQ_FILES = frozenset(
    ("status", "stat", "statm", "maps", "auxv", "comm", "mountinfo", "mounts", "cpuinfo")
)
SYSFS_FILE_SIZE = 4096  # what sysfs attributes report as their size, and seek from


def _is_seq_file(f: OpenFile) -> bool:
    return (
        f.kind == PROC_FILE
        and f.path.startswith("/proc/")
        and (posixpath.basename(f.path) in SEQ_FILES)
    )


def pwrite_refusal(f: OpenFile) -> int:
    """Why a positioned write to an emulated entry fails: a seq_file takes no positioned
    writes at all; the others were opened read-only."""
    return -ESPIPE if _is_seq_file(f) else -EBADF


def _end(f: OpenFile) -> int | None:
    """Where SEEK_END counts from: a /proc file's size is 0, a sysfs file's a page; seq_file
    entries refuse it."""
    if f.kind != PROC_FILE:
        return 0
    if f.path.startswith("/sys/"):
        return SYSFS_FILE_SIZE
    return None if _is_seq_file(f) else 0


def seek(f: OpenFile, offset: int, whence: int) -> int:
    bases = {0: 0, 1: f.offset, 2: _end(f)}
    base = bases.get(whence)
    if base is None or base + offset < 0:
        return -EINVAL
    f.offset = base + offset
    return f.offset


def getdents(f: OpenFile, limit: int) -> bytes | int:
    """linux_dirent64 records of an emulated directory, from its position on."""
    if f.kind != PROC_DIR:
        return -ENOTDIR
    rows = [line.split(" ", 2) for line in f.data.splitlines()][f.offset :]
    data, count = pack_dirents([(int(i), int(t), n) for i, t, n in rows], limit)
    if count == 0 and rows:
        return -EINVAL
    f.offset += count
    return data


@dataclass(frozen=True)
class EntryOwner:
    """Who owns the process's /proc entries and when they were made, as stat shows them."""

    time_ns: int = 0
    uid: int = 0
    gid: int = 0


def stat_result(
    kind: str, size: int = 0, ino: int = SELF_INO, owner: EntryOwner = EntryOwner()
) -> os.stat_result:
    """What stat shows for an emulated entry: a read-only file, a directory or a link."""
    mode = {PROC_FILE: PROC_FILE_MODE, PROC_DIR: PROC_DIR_MODE}.get(kind, PROC_LINK_MODE)
    seconds = owner.time_ns // 1_000_000_000
    times = {f"st_{t}time_ns": owner.time_ns for t in "amc"}
    extra = {**times, "st_blksize": 1024, "st_blocks": 0, "st_rdev": 0}
    return os.stat_result(
        (mode, ino, PROC_DEV, 1, owner.uid, owner.gid, size, seconds, seconds, seconds), extra
    )


def entry_owner(p: LinuxPlatform) -> EntryOwner:
    """The owner and making time of the guest's /proc entries: the recorder's own (its
    effective ids are the guest's; its entry was made when the process started)."""
    result, data = p.host_call(lambda: p.live.proc_owner())
    if result != 0 or len(data) != 16:
        return EntryOwner()
    return EntryOwner(*struct.unpack("<qII", data))


def stat_kind(p: LinuxPlatform, target: ProcPath | str) -> str | None:
    """The kind of an emulated entry for stat; None when it does not exist."""
    if isinstance(target, str):
        return PROC_FILE
    if dir_entries(p, target.entry) is not None:
        return PROC_DIR
    if target.entry in FILES:
        return PROC_FILE
    if target.entry in LINKS or re.fullmatch(r"fd/\d+", target.entry):
        return "link"
    return None


LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8


def flock(op: int) -> int:
    """flock on an emulated entry: unlocking succeeds; a lock is refused (ENOLCK), since one
    held here would have to exclude the process's other descriptions of the entry."""
    kind = op & ~LOCK_NB
    if kind == LOCK_UN:
        return 0
    return -ENOLCK if kind in (LOCK_SH, LOCK_EX) else -EINVAL


F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
O_WRONLY = 1


def record_lock(f: OpenFile, cmd: int, flock_bytes: bytes) -> tuple[int, bytes | None]:
    """fcntl's record locks on an emulated entry: the result and the struct flock F_GETLK
    writes back. A process's own POSIX locks never conflict with each other and nobody else
    can open the guest's emulated entries, so F_GETLK finds none and F_SETLK has nothing to
    wait for; OFD locks would conflict between this process's descriptions and are refused
    (ENOLCK) rather than granted without effect."""
    l_type = struct.unpack_from("<h", flock_bytes)[0]
    if l_type not in (F_RDLCK, F_WRLCK, F_UNLCK):
        return -EINVAL, None
    mode = f.flags & O_ACCMODE
    if cmd in (F_GETLK, F_OFD_GETLK):
        if cmd == F_OFD_GETLK and struct.unpack_from("<i", flock_bytes, 24)[0]:
            return -EINVAL, None  # l_pid must be 0
        return 0, struct.pack("<h", F_UNLCK) + flock_bytes[2:]
    if (l_type, mode) in ((F_WRLCK, O_RDONLY), (F_RDLCK, O_WRONLY)):
        return -EBADF, None
    if l_type == F_UNLCK or cmd in (F_SETLK, F_SETLKW):
        return 0, None
    return -ENOLCK, None


def fionread(f: OpenFile) -> int | None:
    """FIONREAD's count on an emulated entry, as Linux computes it for /proc's files (their
    size is 0: minus the position); None for a directory, which has no such ioctl."""
    if f.kind != PROC_FILE:
        return None
    return -f.offset
