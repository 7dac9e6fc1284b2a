"""/proc/self/status, stat and statm, /etc/mtab and /proc/cpuinfo, as the program sees them:
the native run is the oracle (x86-64), the recording must print the same and the replay
repeat it."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_native, run_ttdbg
from tests.guest_programs import ARCHES, build, native_command
from ttdbg.backend.linux.calls.procstatus import COMPUTED, INHERITED_X86, X86_ONLY

# The fields ttdbg shows: a field a newer kernel prints that ttdbg neither computes nor
# knows to be inherited is left out by design (its meaning is unknown), so the transcript
# of a host with such a field is compared without it; every field ttdbg knows must be there.
KNOWN = frozenset(COMPUTED) | INHERITED_X86


def named(program: Path, tmp_path: Path, arch: str) -> Path:
    """The program under its own name (its cached file's name holds the architecture, and
    the name is what status shows)."""
    (tmp_path / arch).mkdir()
    return Path(shutil.copy(program, tmp_path / arch / "status_fields"))


def recorded_and_replayed(program: Path, tmp_path: Path) -> bytes:
    rec_path = tmp_path / "run.ttrec"
    rec = run_ttdbg(["record", "-o", str(rec_path), "--", str(program)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr.decode()
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], cwd="/")
    assert rep.returncode == 0, rep.stderr.decode()
    assert rep.stdout == rec.stdout
    return rec.stdout


def with_fields(transcript: str, keep: Callable[[str], bool]) -> str:
    """The transcript with only the fields `keep` accepts in its first line."""
    head, _, rest = transcript.partition("\n")
    label, *names = head.split(" ")
    return " ".join([label, *(n for n in names if keep(n))]) + "\n" + rest


def runner_ignores() -> int:
    """The signals this test process ignores that a native child keeps ignoring (exec keeps
    SIG_IGN; subprocess gives back only SIGPIPE and SIGXFSZ, which Python ignores itself)."""
    with open("/proc/self/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    return mask & ~(1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1))


def without_inherited_ignores(transcript: str) -> str:
    """The native transcript as a child of a parent that ignores nothing would print it:
    ttdbg starts its guest with every signal at its default action (README: known
    differences), where the native child inherits what the test runner ignores."""
    inherited = runner_ignores()
    transcript = re.sub(
        r"SigIgn:(\s*)([0-9a-f]{16})",
        lambda m: f"SigIgn:{m.group(1)}{int(m.group(2), 16) & ~inherited:016x}",
        transcript,
    )
    # stat's sigignore field, as status_fields prints it
    return re.sub(
        r"ignored ([0-9a-f]+),",
        lambda m: f"ignored {int(m.group(1), 16) & ~inherited:x},",
        transcript,
    )


@pytest.mark.parametrize("arch", ARCHES)
def test_status_fields_and_values_are_the_native_ones(arch: str, tmp_path: Path) -> None:
    """Field names in the kernel's order; the values the program's own actions set (name,
    state, ids, signal masks and handlers, umask, the growth and peak of the address space,
    stat's fields and start time, statm's sizes, the entries' owner and time) as natively.
    qemu-user answers /proc/self/status from its own process, so the other architectures are
    held to the x86-64 native transcript, less the x86-only fields."""
    x86 = named(build("status_fields", "x86_64"), tmp_path, "x86_64")
    native = run_native(native_command("x86_64", x86), cwd=tmp_path)
    assert native.returncode == 0, native.stderr.decode()
    expected = with_fields(without_inherited_ignores(native.stdout.decode()), KNOWN.__contains__)
    assert expected.startswith("fields: Name Umask State Tgid Ngid Pid PPid TracerPid Uid Gid")
    if arch != "x86_64":
        expected = with_fields(expected, lambda name: name not in X86_ONLY)
    program = x86 if arch == "x86_64" else named(build("status_fields", arch), tmp_path, arch)
    ours = recorded_and_replayed(program, tmp_path).decode()
    assert ours == expected


def test_etc_mtab_is_the_guests_mount_table(tmp_path: Path) -> None:
    """/etc/mtab is a symlink to /proc/self/mounts (or /proc/mounts): opened and stat'ed
    through it, the guest's own table, as natively."""
    program = build("mtab_entries", "x86_64")
    native = run_native([str(program)], cwd=tmp_path)
    assert native.returncode == 0, native.stderr.decode()
    assert native.stdout.startswith(b"stat /etc/mtab: 0, mode 100444\n")
    assert recorded_and_replayed(program, tmp_path) == native.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_cpuinfo_describes_the_cpu_the_program_runs_on(arch: str, tmp_path: Path) -> None:
    """/proc/cpuinfo lists the online CPUs and, on x86-64, the model and flags CPUID gives;
    elsewhere the features AT_HWCAP gives: as natively (the host's CPUs and flags before)."""
    native = run_native(native_command("x86_64", build("cpuinfo_model", "x86_64")), cwd=tmp_path)
    assert native.returncode == 0, native.stderr.decode()
    assert native.stdout.count(b": 1\n") == 3, native.stdout.decode()
    assert recorded_and_replayed(build("cpuinfo_model", arch), tmp_path) == native.stdout


def test_entries_show_the_state_at_the_read_not_at_the_open(tmp_path: Path) -> None:
    """status, stat, comm and maps opened first and read after the program blocked and
    ignored signals, renamed itself and mapped a page, then read again from the start (lseek,
    pread) after more changes: Linux makes their text at the read, so each read shows the
    changes before it (the open-time text showed none of them). SigQ counts the signals
    the program left pending (it showed the recorder's count alone)."""
    program = build("status_reread", "x86_64")
    native = run_native([str(program)], cwd=tmp_path)
    assert native.returncode == 0, native.stderr.decode()
    assert b"status read after: SigBlk:\t0000000000000200\n" in native.stdout
    assert b"comm pread at 0: again\n" in native.stdout
    assert b"SigQ grew by 1 after kill, by 2 after raise\n" in native.stdout
    expected = without_inherited_ignores(native.stdout.decode())
    assert recorded_and_replayed(program, tmp_path).decode() == expected


# Replay with an audit hook noting every file the process opens under /proc, /sys or /etc.
NO_HOST_PROC = """
import json, runpy, sys
seen = []
def note(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = args[0] if isinstance(args[0], str) else args[0].decode(errors="replace")
        if path.startswith(("/proc", "/sys", "/etc")):
            seen.append(path)
sys.addaudithook(note)
sys.argv = ["ttdbg", "replay", "--verify", sys.argv[1]]
try:
    runpy.run_module("ttdbg", run_name="__main__")
finally:
    print("OPENED " + json.dumps(seen), file=sys.stderr)
"""


@pytest.mark.parametrize("name", ["status_reread", "status_fields", "mtab_entries"])
def test_replay_reads_no_host_proc_entry(name: str, tmp_path: Path) -> None:
    """What status, stat, statm, /etc/mtab and the rest showed while recording comes from
    the recording in replay: the host's /proc (today's, another process's) is never read."""
    program = named(build(name, "x86_64"), tmp_path, "x86_64")
    rec = tmp_path / "run.ttrec"
    done = run_ttdbg(["record", "-o", str(rec), "--", str(program)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    replay = subprocess.run(
        [sys.executable, "-c", NO_HOST_PROC, str(rec)], capture_output=True, timeout=300, cwd="/"
    )
    err = replay.stderr.decode()
    assert replay.returncode == 0, err
    assert err.splitlines()[-1] == "OPENED []", err
    assert replay.stdout == done.stdout


def test_maps_lines_are_laid_out_as_linux_prints_them(tmp_path: Path) -> None:
    """An anonymous mapping's line ends with the header's space (it had none), a named
    one's name starts at column 73: as natively, addresses and file identities aside."""
    program = build("maps_format", "x86_64")
    native = run_native([str(program)], cwd=tmp_path)
    assert native.returncode == 0, native.stderr.decode()
    assert b"mine: [rw-p 00000000 00:00 0 ]\n" in native.stdout
    assert b"stack: name at column 73" in native.stdout
    assert recorded_and_replayed(program, tmp_path) == native.stdout
