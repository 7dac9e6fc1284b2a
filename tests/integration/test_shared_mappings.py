"""Shared writable file mappings: the stores reach the file as on Linux, write() and ftruncate
show through the mapping, and replay restores all of it from the log without the file.

The conformance program `sharedmaps.c` (also run against the native program on three
architectures by tests/conformance) is recorded with close snapshots here, so seeks restore
shared mappings, their sizes and their SIGBUS pages from snapshots; the oracle is one forward
replay from icount 0 that restores nothing."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.test_conformance import build
from tests.conftest import missing, require_tool, run_native, run_ttdbg
from ttdbg.backend.machinestate import read_pages
from ttdbg.backend.process import GuestProcess
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.timeline import Timeline


def forward(recording: Path, icount: int) -> GuestProcess:  # type: ignore[type-arg]
    """A fresh replay run from reset to `icount` (a run stops early where a fault such as
    SIGBUS enters its handler: it goes on from there)."""
    proc = new_replay_process(open_recording(str(recording)))
    while proc.machine.icount < icount:
        before = proc.machine.icount
        proc.run(icount - before)
        assert proc.machine.icount > before, f"stuck at {before}"
    assert proc.machine.icount == icount
    return proc


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(recording, directory the native run left, directory the recorded run left)."""
    program = build("sharedmaps", "x86_64")
    base = tmp_path_factory.mktemp("sharedmaps")
    native_dir, rec_dir = base / "native", base / "record"
    native_dir.mkdir()
    rec_dir.mkdir()
    native = run_native([str(program)], cwd=native_dir, timeout=60)
    rec = base / "sharedmaps.ttrec"
    got = run_ttdbg(
        ["record", "--snapshot-every", "2000", "-o", str(rec), "--", str(program)],
        cwd=rec_dir,
        timeout=300,
    )
    assert got.returncode == native.returncode == 0, got.stderr.decode()
    assert got.stdout == native.stdout
    return rec, native_dir, rec_dir


def test_the_file_on_disk_is_the_native_runs(recorded: tuple[Path, Path, Path]) -> None:
    rec, native_dir, rec_dir = recorded
    assert (rec_dir / "data").read_bytes() == (native_dir / "data").read_bytes()
    # The stores of the last mapping, never unmapped, reached the file when the run ended.
    assert b"AT-EXIT" in (rec_dir / "data").read_bytes()
    kinds = open_recording(str(rec)).events
    assert sum(1 for ev in kinds if ev.kind.name == "MAPPED_FILE") >= 5


def test_replay_without_the_file_verifies_and_writes_nothing(
    recorded: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    rec = recorded[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    rep = run_ttdbg(["replay", "--verify", str(rec)], cwd=empty, timeout=300)
    assert rep.returncode == 0, rep.stderr.decode()
    assert b"verified" in rep.stderr
    assert rep.stdout == run_native([str(build("sharedmaps", "x86_64"))], cwd=tmp_path).stdout
    assert list(empty.iterdir()) == []


def test_seeks_restore_shared_mappings_as_a_forward_replay(
    recorded: tuple[Path, Path, Path],
) -> None:
    """Memory map (SIGBUS pages take no access), memory, registers and the shared-mapping
    bookkeeping after seeks in any order equal a forward replay's at the same icount."""
    rec = recorded[0]
    timeline = Timeline(open_recording(str(rec)))
    assert len(timeline.recording.snapshots.icounts) > 20
    rng = random.Random(5)
    positions = [rng.randrange(timeline.end + 1) for _ in range(12)]
    for at in positions:
        timeline.seek(at)
        oracle = forward(rec, at)
        here, there = timeline.proc, oracle
        assert read_pages(here.machine) == read_pages(there.machine), f"memory at {at}"
        assert here.machine.register_file.read() == there.machine.register_file.read()
        mem, want = here.platform.mem, there.platform.mem
        assert mem.shared.to_state() == want.shared.to_state(), f"shared mappings at {at}"
        assert mem.past_eof == want.past_eof, f"pages past the end at {at}"


ALIASES = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static const char *show(void *p) { return p == MAP_FAILED ? strerrorname_np(errno) : "ok"; }
static const char *done(int r) { return r ? strerrorname_np(errno) : "ok"; }
int main(void) {
    int fd = open("aliased", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (ftruncate(fd, 8192)) return 1;
    char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("first %s\n", show(a));
    printf("the same page again %s\n", show(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096)));
    int ro = open("aliased", O_RDONLY);
    printf("read-only, same page %s\n", show(mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0)));
    munmap(a + 4096, 4096);
    char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    printf("the page no longer mapped %s\n", show(b));
    strcpy(a, "one"); strcpy(b, "two");
    /* Two read-only mappings of one page both show what write() puts there. */
    munmap(b, 4096);
    char *r1 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
    char *r2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 4096);
    printf("two read-only %s %s\n", show(r1), show(r2));
    if (pwrite(fd, "seen twice", 10, 4096) != 10) return 1;
    printf("%.10s, %.10s\n", r1, r2);
    printf("one made writable %s\n", done(mprotect(r1, 4096, PROT_READ | PROT_WRITE)));
    /* Growing a mapping over file pages another one shows. */
    munmap(a, 4096);
    munmap(r1, 4096);
    munmap(r2, 4096);
    char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *high = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    printf("side by side %s %s\n", show(low), show(high));
    printf("grown over the other %s\n", show(mremap(low, 4096, 8192, MREMAP_MAYMOVE)));
    return 0;
}
"""


def test_two_mappings_of_one_page_are_refused_visibly(tmp_path: Path) -> None:
    """ttdbg keeps a copy of a file's pages per mapping, Linux one per file: two shared
    mappings of the same page where either is writable are refused (ENODEV for mmap, EACCES
    for mprotect, ENOMEM for mremap growing over it), never shown stale; read-only ones both
    show the file's changes, and a mapping of pages no other mapping shows is fine."""
    cc = require_tool("gcc")
    prog = tmp_path / "aliases"
    src = tmp_path / "aliases.c"
    src.write_text(ALIASES)
    subprocess.run([cc, "-static", "-O1", "-o", str(prog), str(src)], check=True, timeout=120)
    native_dir, rec_dir = tmp_path / "native", tmp_path / "record"
    native_dir.mkdir()
    rec_dir.mkdir()
    native = run_native([str(prog)], cwd=native_dir)
    rec_path = tmp_path / "a.ttrec"
    rec = run_ttdbg(["record", "-o", str(rec_path), "--", str(prog)], cwd=rec_dir)
    lines = native.stdout.splitlines()
    assert lines[1:3] == [b"the same page again ok", b"read-only, same page ok"]
    assert lines[-3] == b"one made writable ok"
    assert lines[-1] == b"grown over the other ok"
    assert rec.stdout.splitlines() == [
        b"first ok",
        b"the same page again ENODEV",
        b"read-only, same page ENODEV",
        b"the page no longer mapped ok",
        b"two read-only ok ok",
        b"seen twice, seen twice",
        b"one made writable EACCES",
        b"side by side ok ok",
        b"grown over the other ENOMEM",
    ]
    assert (rec_dir / "aliased").read_bytes() == (native_dir / "aliased").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], cwd=empty)
    assert rep.returncode == 0, rep.stderr.decode()
    assert rep.stdout == rec.stdout
    assert list(empty.iterdir()) == []


WAL_SCRIPT = r"""
import sqlite3
c = sqlite3.connect("db.sqlite")
print(c.execute("PRAGMA journal_mode=WAL").fetchone())
c.execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, x REAL)")
c.executemany("INSERT INTO t(b, x) VALUES (?, ?)", [(f"row{i}", i / 7) for i in range(2000)])
c.commit()
d = sqlite3.connect("db.sqlite")  # a second connection reads through the shared WAL index
print(d.execute("SELECT count(*), sum(a), max(b), round(sum(x), 6) FROM t").fetchone())
c.execute("DELETE FROM t WHERE a % 3 = 0")
c.execute("UPDATE t SET b = upper(b) WHERE a % 5 = 0")
c.commit()
print(d.execute("SELECT count(*), sum(a), min(b) FROM t").fetchone())
print(d.execute("PRAGMA integrity_check").fetchone())
print(c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
d.close()
c.close()
"""


@pytest.mark.slow
def test_python_sqlite_in_wal_mode_like_native(tmp_path: Path) -> None:
    """SQLite in WAL mode (its -shm index is a shared writable mapping) through python3's
    sqlite3, two connections: output, database bytes and files left equal the native run's;
    the replay verifies without any of the files."""
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        missing("/usr/bin/python3 is not installed")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    dirs = {name: tmp_path / name for name in ("native", "record", "replay")}
    for d in dirs.values():
        d.mkdir()
    argv = [python, "-c", WAL_SCRIPT]
    native = subprocess.run(argv, cwd=dirs["native"], env=env, capture_output=True, timeout=120)
    assert native.returncode == 0, native.stderr
    rec = tmp_path / "wal.ttrec"
    got = run_ttdbg(
        ["record", "-o", str(rec), "--", *argv], cwd=dirs["record"], env=env, timeout=600
    )
    assert got.stdout == native.stdout, got.stderr.decode()[-2000:]
    assert got.returncode == 0
    assert b"('wal',)" in got.stdout
    assert b"('ok',)" in got.stdout
    assert sorted(p.name for p in dirs["record"].iterdir()) == ["db.sqlite"]
    assert (dirs["record"] / "db.sqlite").read_bytes() == (
        dirs["native"] / "db.sqlite"
    ).read_bytes()
    rep = run_ttdbg(["replay", "--verify", str(rec)], cwd=dirs["replay"], timeout=600)
    assert rep.returncode == 0, rep.stderr.decode()[-2000:]
    assert rep.stdout == native.stdout
    assert list(dirs["replay"].iterdir()) == []
    shutil.rmtree(tmp_path, ignore_errors=True)
