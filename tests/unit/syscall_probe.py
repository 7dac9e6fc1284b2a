"""Calls every syscall table row with probe arguments and reports what each call did.

Run as `python -m tests.unit.syscall_probe` in a scratch directory (the rows act on the host,
as they do when recording); prints one JSON object per (arch, row, probe). Each row runs in a
forked child, so a call that changes the process (setuid, chdir, setsid) affects only it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
from collections.abc import Callable
from functools import partial

import unicorn

from ttdbg.backend.eventlog import EventLogWriter
from ttdbg.backend.inputs import LiveInputs
from ttdbg.backend.linux.calls.signatures import SIGNATURES
from ttdbg.backend.linux.calls.table import ROWS, SYSCALLS, Kind
from ttdbg.backend.linux.host import HostIO
from ttdbg.backend.loader import parse_program
from ttdbg.backend.process import GuestProcess
from ttdbg.errors import GuestError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRATCH = 0x10_0000_0000
BUF, PATH = SCRATCH, SCRATCH + 0x800
AT_FDCWD = (1 << 64) - 100

ZERO, PATH2 = SCRATCH + 0x400, SCRATCH + 0x900
FD, NEWFD = 3, 5
SECOND_PATHS = ("newname", "new")
PATH_NAMES = ("filename", "pathname", "path", "oldname", "old", "newname", "new", "uname")
SIZE_NAMES = ("count", "len", "size", "bufsiz", "nfds", "vlen", "gidsetsize", "old_len")
# Values for parameters that select an operation: one that reaches the host or changes state.
BY_NAME = {
    "sigsetsize": 8, "mode": 0o644, "resource": 0, "behavior": 4, "prot": 3, "flags": 0,
    "new_len": 0x1000, "timeout": 0, "newfd": NEWFD,
}  # fmt: skip
BY_CALL = {
    ("fcntl", "cmd"): 5,  # F_GETLK
    ("fcntl", "arg"): ZERO,
    ("ioctl", "cmd"): 0x541B,  # FIONREAD
    ("flock", "cmd"): 1,  # LOCK_SH
    ("prctl", "option"): 16,  # PR_GET_NAME
    ("arch_prctl", "option"): 0x1003,  # ARCH_GET_FS
    ("mmap", "flags"): 0x22,  # MAP_PRIVATE | MAP_ANONYMOUS
    ("mmap", "fd"): (1 << 64) - 1,
    ("mremap", "flags"): 1,  # MREMAP_MAYMOVE
    ("clock_nanosleep", "rqtp"): ZERO,  # a zero timespec in both vectors: no sleep
    ("nanosleep", "rqtp"): ZERO,
    ("socket", "family"): 1,  # AF_UNIX: other families are refused before the host
    ("socket", "type"): 1,  # SOCK_STREAM
}


def typed_args(name: str, struct_buffer: int) -> tuple[int, ...]:
    """Arguments chosen from the row's C signature: fd 3, paths, a buffer, small sizes."""
    out = []
    for param in (x.strip() for x in SIGNATURES[name].split(",") if x.strip()):
        pname = param.split()[-1].lstrip("*")
        if (name, pname) in BY_CALL:
            out.append(BY_CALL[(name, pname)])
        elif pname.endswith("dfd"):
            out.append(AT_FDCWD)
        elif "*" in param and "char" in param and pname in PATH_NAMES:
            out.append(PATH2 if pname in SECOND_PATHS else PATH)
        elif pname in ("start", "addr"):
            out.append(SCRATCH)
        elif "*" in param:
            out.append(struct_buffer)
        elif "fd" in pname or pname == "fildes":
            out.append(FD)
        elif pname in SIZE_NAMES:
            out.append(16)
        else:
            out.append(BY_NAME.get(pname, 0))
    return tuple(out)


# Probe argument vectors: typed from the signature with struct pointers at a zeroed buffer and
# at a buffer of 0xff bytes (so that a write of zeros shows), and a call on fd 3 with a buffer.
PROBES: dict[str, Callable[[str], tuple[int, ...]]] = {
    "typed-zero": lambda name: typed_args(name, ZERO),
    "typed-ff": lambda name: typed_args(name, BUF),
    "fd": lambda name: (FD, BUF, 16, 0, 0, 0),
}


class Blocked(Exception):
    """The call was still waiting after BLOCK_SECONDS (a poll with no timeout, say)."""


BLOCK_SECONDS = 1


def _blocked(_sig: int, _frame: object) -> None:
    raise Blocked


def _observe(proc: GuestProcess[LiveInputs], log: EventLogWriter) -> tuple[object, ...]:
    m, plat = proc.machine, proc.platform
    try:
        memory = hashlib.blake2b(bytes(m.read(SCRATCH, 0x2000))).hexdigest()
    except unicorn.UcError:
        memory = "unmapped"
    regs = json.dumps([m.register_file.read(), sorted(m.regions())], sort_keys=True)
    state = json.dumps(plat.to_state(), sort_keys=True, default=str)
    return log.count, memory, regs, state


def guest(arch: str) -> tuple[GuestProcess[LiveInputs], EventLogWriter]:
    """A started guest of `arch` with a scratch buffer and a path string mapped."""
    sub = () if arch == "x86_64" else (arch,)
    program_path = os.path.join(ROOT, "sample_traces", "bin", *sub, "hello")
    with open(program_path, "rb") as f:
        program = parse_program(f.read(), program_path)
    log = EventLogWriter()
    proc = GuestProcess(program, LiveInputs(log), HostIO(program_path, program.arch.stat_layout))
    proc.platform.start([b"hello"], [], program_path.encode())
    proc.machine.uc.mem_map(SCRATCH, 0x2000)
    proc.machine.write(BUF, b"\xff" * 0x400)
    proc.machine.write(PATH, b"probe-file\0")
    proc.machine.write(PATH2, b"probe-new\0")
    return proc, log


def probe(
    proc: GuestProcess[LiveInputs], log: EventLogWriter, name: str, probe_name: str
) -> dict[str, object]:
    """Run one row with one probe vector (in a fresh directory) and report what changed."""
    plat = proc.platform
    os.chdir(tempfile.mkdtemp(prefix="probe-"))
    with open("probe-file", "w") as f:
        f.write("0123456789abcdef" * 4)
    fd = plat.fds.open("file", "probe-file", os.O_RDWR, False)
    assert plat.host is not None
    plat.host.adopt(plat.fds.files[fd].ident, os.open("probe-file", os.O_RDWR))
    plat.syscall_nr = plat.arch.syscall_numbers[name]
    args = PROBES[probe_name](name)
    plat.syscall_args = args
    before = _observe(proc, log)
    outcome: str | int
    try:
        result = SYSCALLS[name](plat, args)
        outcome = "set registers" if result is None else result
    except unicorn.UcError:
        outcome = "EFAULT"
    except GuestError as err:
        outcome = f"refused: {err}"
    except Blocked:
        outcome = "blocked"
    after = _observe(proc, log)
    changed = [
        what
        for what, b, a in zip(("log", "memory", "registers", "state"), before, after, strict=True)
        if a != b
    ]
    if proc.machine.halted is not None:
        changed.append("halted")
    return {"result": outcome, "changed": changed}


def _in_child(fn: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Run `fn` in a forked child (its effects on the process stay there); its report."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.signal(signal.SIGALRM, _blocked)
        signal.alarm(BLOCK_SECONDS)
        try:
            report = fn()
        except Exception as err:  # a crash is one of the things the policy test looks for
            report = {"crash": f"{type(err).__name__}: {err}"}
        signal.alarm(0)
        os.write(w, json.dumps(report).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text) if text else {"crash": "the probe died"}


def main() -> None:
    from ttdbg.backend.arch import ARCHES

    for arch in ARCHES.values():
        proc, log = guest(arch.name)
        for name, row in sorted(ROWS.items()):
            if row.kind is Kind.REFUSED or name not in arch.syscall_numbers:
                continue
            for probe_name in PROBES:
                report = _in_child(partial(probe, proc, log, name, probe_name))
                report.update(arch=arch.name, name=name, probe=probe_name)
                print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
