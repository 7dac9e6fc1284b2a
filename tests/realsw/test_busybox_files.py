"""Debian's busybox-static applets that change files leave the same tree under ttdbg as natively.

Each applet runs natively and under `ttdbg record` in copies of one seeded directory (fixed
mtimes, modes, a symlink); the output, the exit status and the resulting trees (types, sizes,
modes, link targets, explicitly set mtimes) must be equal, and replay must repeat the output
without touching its own directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import file_tree, require_tool, run_native, run_ttdbg

STAMP = 1_000_000_000
APPLETS = [
    ["ln", "-s", "src/a.txt", "link"],
    ["ln", "src/a.txt", "hard"],
    ["touch", "-d", "2001-02-03 04:05:06", "src/a.txt"],
    ["touch", "-h", "-d", "2002-01-01 10:00:00", "src/sym"],
    ["cp", "-a", "src", "copy"],
    ["cp", "-R", "src", "plain"],
    ["tar", "cf", "out.tar", "src"],
    ["tar", "xf", "seed.tar"],
    ["mkdir", "-p", "-m", "700", "x/y/z"],
    ["mv", "src/b", "moved"],
    ["rm", "-r", "src"],
    ["chmod", "-R", "go-rwx", "src"],
    ["truncate", "-s", "100", "src/a.txt"],
    ["stat", "-f", "-c", "%T", "."],
    ["stat", "-c", "%n %s %a %Y %N", "src/a.txt", "src/sym", "src/b"],
    ["ls", "-a", "src"],
    ["find", "src", "-type", "f"],
    ["du", "-s", "-k", "src/b"],
    ["sh", "-c", "read line; echo got $line"],
]


def seed(root: Path, busybox: str) -> None:
    (root / "src" / "b").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("alpha\n" * 100)
    (root / "src" / "b" / "c.txt").write_text("gamma\n")
    (root / "src" / "sym").symlink_to("a.txt")
    os.chmod(root / "src" / "b" / "c.txt", 0o640)
    for path in (root / "src" / "b" / "c.txt", root / "src" / "a.txt", root / "src" / "b"):
        os.utime(path, ns=(STAMP * 10**9, STAMP * 10**9))
    run_native([busybox, "tar", "cf", "seed.tar", "src/b"], cwd=root)
    os.utime(root / "src", ns=(STAMP * 10**9, STAMP * 10**9))


@pytest.mark.slow
@pytest.mark.parametrize("applet", APPLETS, ids=[" ".join(a[:3]) for a in APPLETS])
def test_applet_leaves_the_native_tree(applet: list[str], tmp_path: Path) -> None:
    busybox = require_tool("busybox")
    native_dir, rec_dir, replay_dir = (tmp_path / n for n in ("native", "record", "replay"))
    for d in (native_dir, rec_dir):
        d.mkdir()
        seed(d, busybox)
    replay_dir.mkdir()
    native = run_native([busybox, *applet], b"typed\n", cwd=native_dir)
    rec_path = tmp_path / "bb.ttrec"
    rec = run_ttdbg(
        ["record", "-o", str(rec_path), "--", busybox, *applet], b"typed\n", cwd=rec_dir
    )
    assert rec.stdout == native.stdout
    assert rec.returncode == native.returncode, rec.stderr.decode()
    assert file_tree(rec_dir) == file_tree(native_dir)
    rep = run_ttdbg(["replay", str(rec_path)], cwd=replay_dir)
    assert rep.stdout == native.stdout, rep.stderr.decode()
    assert file_tree(replay_dir) == {}
