"""Conformance: small C programs, one per area, behave the same natively and under ttdbg.

Each program prints a transcript of the calls it makes. It runs natively on x86-64 (under
qemu-user for AArch64 and RISC-V 64), under `ttdbg record` and under `ttdbg replay`, each in a
fresh directory; the transcripts, exit statuses and the files left behind (type, size, mode,
link target, and mtime where the program set one) must be equal. The programs are built here,
cached under ~/.cache/ttdbg-tests/conformance/ by the hash of their source and compiler.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import file_tree, require_tool, run_native, run_ttdbg

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("TTDBG_TEST_CACHE", Path.home() / ".cache" / "ttdbg-tests"))
AREAS = ["files", "dirs", "links", "locks", "times", "polling", "signals", "memory", "procinfo",
         "proc", "timers", "epoll", "sched", "xattrs", "procfds", "fdflags",
         "nonblock", "sockets", "sharedmaps"]  # fmt: skip
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
# Where qemu-user is no oracle: it answers /proc/self/comm and status from its own process,
# and takes any madvise (unknown advice, a hole in the range) with 0.
QEMU_DIFFERS = {"proc", "procinfo", "procfds", "memory"}
# Where the files' bytes are the point (stores through shared mappings reach them): compared too.
CONTENT_AREAS = {"sharedmaps"}


def contents(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def build(area: str, arch: str) -> Path:
    """The static binary of one conformance program, built once per source and compiler."""
    cc = require_tool(COMPILERS[arch])
    source = (HERE / "conf.h").read_bytes() + (HERE / f"{area}.c").read_bytes()
    version = subprocess.run([cc, "--version"], capture_output=True, timeout=30).stdout
    key = hashlib.sha256(source + version).hexdigest()[:16]
    out = CACHE / "conformance" / arch / f"{area}-{key}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")  # other test workers may build it too
        subprocess.run(
            [cc, "-static", "-O1", "-Wall", "-o", str(tmp), str(HERE / f"{area}.c")],
            check=True,
            timeout=300,
            capture_output=True,
        )
        tmp.replace(out)
    return out


def fresh(base: Path, name: str) -> Path:
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(COMPILERS))
@pytest.mark.parametrize("area", AREAS)
def test_area_matches_native(area: str, arch: str, tmp_path: Path) -> None:
    program = build(area, arch)
    argv = [str(program), "one", "two words"]
    native_argv = argv if arch == "x86_64" else [require_tool(f"qemu-{arch}"), *argv]
    if arch != "x86_64" and area in QEMU_DIFFERS:
        native_argv = [str(build(area, "x86_64")), *argv[1:]]  # its transcript is the same
    native_dir = fresh(tmp_path, "native")
    native = run_native(native_argv, cwd=native_dir, timeout=120)
    native_out = native.stdout.replace(str(build(area, "x86_64")).encode(), str(program).encode())
    rec_dir = fresh(tmp_path, "record")
    rec_path = tmp_path / "run.ttrec"
    rec = run_ttdbg(["record", "-o", str(rec_path), "--", *argv], cwd=rec_dir, timeout=300)
    assert rec.stdout.decode() == native_out.decode(), rec.stderr.decode()
    assert rec.returncode == native.returncode, rec.stderr.decode()
    assert file_tree(rec_dir) == file_tree(native_dir)
    if area in CONTENT_AREAS:
        assert contents(rec_dir) == contents(native_dir)
    replay_dir = fresh(tmp_path, "replay")
    rep = run_ttdbg(["replay", str(rec_path)], cwd=replay_dir, timeout=300)
    assert rep.stdout == rec.stdout, rep.stderr.decode()
    assert rep.returncode == rec.returncode, rep.stderr.decode()
    assert file_tree(replay_dir) == {}, "replay must not touch the host"
