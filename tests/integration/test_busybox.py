"""Debian's busybox-static applets: recorded output equals native output, replay repeats it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import missing, require_tool, run_native, run_ttdbg

DATA = "".join(f"{(i * 7919) % 1000} line {i}\n" for i in range(1500)).encode()

APPLETS = [
    ["echo", "hello", "from", "busybox"],
    ["sha256sum", "data.txt"],
    ["sort", "data.txt"],
    ["sort", "-n", "-r", "data.txt"],
    ["gzip", "-c", "data.txt"],
    ["wc", "data.txt"],
    ["wc", "-l"],
    ["od", "-A", "x", "-t", "x1", "data.txt"],
    [
        "sh",
        "-c",
        "x=6; echo $((x*7)); for i in 1 2; do echo item $i; done; test -f data.txt && echo ok",
    ],
]


@pytest.fixture(scope="module")
def busybox() -> str:
    return require_tool("busybox")


@pytest.mark.parametrize("applet", APPLETS, ids=[" ".join(a[:2]) for a in APPLETS])
def test_applet(busybox: str, applet: list[str], tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(DATA)
    rec_path = tmp_path / "bb.ttrec"
    native = run_native([busybox, *applet], DATA, cwd=tmp_path)
    rec = run_ttdbg(["record", "-o", str(rec_path), "--", busybox, *applet], DATA, cwd=tmp_path)
    assert rec.returncode == native.returncode
    assert rec.stdout == native.stdout
    assert len(rec.stdout) > 0
    (tmp_path / "data.txt").write_bytes(b"changed after recording\n")
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], b"other stdin", cwd="/")
    assert rep.returncode == native.returncode, rep.stderr
    assert rep.stdout == native.stdout


ARM64_BUSYBOX = os.environ.get("TTDBG_BUSYBOX_ARM64", "/opt/busybox-arm64/bin/busybox")


@pytest.mark.parametrize("applet", APPLETS, ids=[" ".join(a[:2]) for a in APPLETS])
def test_arm64_applet_matches_qemu(applet: list[str], tmp_path: Path) -> None:
    qemu = require_tool("qemu-aarch64")
    if not os.path.exists(ARM64_BUSYBOX):
        missing(f"Debian's busybox-static for arm64 ({ARM64_BUSYBOX}) is not installed")
    (tmp_path / "data.txt").write_bytes(DATA)
    rec_path = tmp_path / "bb.ttrec"
    native = run_native([qemu, ARM64_BUSYBOX, *applet], DATA, cwd=tmp_path)
    rec = run_ttdbg(
        ["record", "-o", str(rec_path), "--", ARM64_BUSYBOX, *applet], DATA, cwd=tmp_path
    )
    assert rec.returncode == native.returncode
    assert rec.stdout == native.stdout
    assert len(rec.stdout) > 0
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], b"other stdin", cwd="/")
    assert rep.returncode == native.returncode, rep.stderr
    assert rep.stdout == native.stdout


def test_fork_is_refused_with_a_clear_message(busybox: str, tmp_path: Path) -> None:
    rec = run_ttdbg(
        ["record", "-o", str(tmp_path / "f.ttrec"), "--", busybox, "sh", "-c", "ls / | cat"]
    )
    assert rec.returncode == 1
    err = rec.stderr.decode()
    assert "does not support" in err
    assert any(call in err for call in ("fork()", "vfork()", "clone()"))
    assert "Traceback" not in err
