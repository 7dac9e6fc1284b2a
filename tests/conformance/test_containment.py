"""The guest never reaches the recorder's own process through /proc (issue 13, finding 7):
/proc/self/mem in every spelling is refused with EACCES, /dev/fd/N of a recorder fd does not
exist for the guest, and what /proc shows is the guest's own argv and memory map; a symlink
into /proc/self leads to the guest's own entry (its environ), as /etc/mtab does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.test_conformance import build
from tests.conftest import run_ttdbg

EXPECTED = """open("/proc/self/mem", O_RDWR) = -1 EACCES
open("/proc/thread-self/mem", O_RDONLY) = -1 EACCES
open(path, O_RDONLY) = -1 EACCES
open("/dev/fd/7", O_RDONLY) = -1 ENOENT
symlink("/proc/self", "self-link") = 0
open("self-link/mem", O_RDWR) = -1 EACCES
open("self-link/environ", O_RDONLY) = 3
open("self-link/../self/mem", O_RDONLY) = -1 EACCES
access("self-link/..", R_OK) = 0
open("/proc", O_RDONLY | O_DIRECTORY) = 4
openat(proc, "self/mem", O_RDONLY) = -1 EACCES
openat(proc, path, O_RDONLY) = 5
maps via /proc dirfd starts at the guest's program: 1
chdir("/proc/self") = -1 EACCES
readlink("/proc/self/fd/7", buf, sizeof buf) = -1 ENOENT
open("/proc/self/cmdline", O_RDONLY) = 6
cmdline is the guest's argv: 1
open("/proc/self/cmdline", O_WRONLY) = -1 EACCES
unlink("self-link") = 0
"""


@pytest.mark.slow
def test_the_guest_cannot_reach_the_recorder(tmp_path: Path) -> None:
    program = build("contain", "x86_64")
    rec_path = tmp_path / "contain.ttrec"
    rec = run_ttdbg(["record", "-o", str(rec_path), "--", str(program)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr.decode()
    assert rec.stdout.decode() == EXPECTED
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], cwd="/")
    assert rep.returncode == 0, rep.stderr.decode()
    assert rep.stdout == rec.stdout
