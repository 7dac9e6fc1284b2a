"""Build the thread test programs (static, per architecture) into the test cache, once."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from tests.conftest import missing, require_tool

SRC = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("TTDBG_TEST_CACHE", Path.home() / ".cache" / "ttdbg-tests"))
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
QEMU = {"aarch64": "qemu-aarch64", "riscv64": "qemu-riscv64"}


def build(source: str, arch: str = "x86_64", compiler: str | None = None) -> Path:
    """The static binary of `tests/threads/<source>` for `arch`, built on first use and
    cached under a key of the source, the compiler and the architecture."""
    default = COMPILERS[arch]
    if source.endswith(".cc"):
        default = default[: -len("gcc")] + "g++"
    cc = require_tool(compiler or default)
    src = SRC / source
    flags = ["-O1", "-g", "-static", "-pthread"]
    key = hashlib.sha256(src.read_bytes() + " ".join([cc, arch, *flags]).encode()).hexdigest()[:16]
    out = CACHE / "threads" / f"{src.stem}-{arch}-{key}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        done = subprocess.run(
            [cc, *flags, "-o", str(tmp), str(src)],
            capture_output=True,
            timeout=180,
        )
        if done.returncode != 0:
            missing(f"cannot build {source} for {arch}: {done.stderr.decode()[-400:]}")
        tmp.rename(out)
    return out


GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "riscv64": "riscv64"}


def build_go(source: str, arch: str = "x86_64") -> Path:
    """The static (CGO_ENABLED=0) binary of `tests/threads/<source>` for `arch`, built by
    Debian's golang-go (a cross build for another architecture) on first use and cached
    under a key of the source, the architecture and `go version`."""
    go = require_tool("go")
    src = SRC / source
    version = subprocess.run([go, "version"], capture_output=True, timeout=60).stdout
    key = hashlib.sha256(src.read_bytes() + version + arch.encode()).hexdigest()[:16]
    out = CACHE / "threads" / f"{src.stem}-go-{arch}-{key}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        env = {
            **os.environ, "CGO_ENABLED": "0", "GO111MODULE": "off", "GOFLAGS": "",
            "GOCACHE": str(CACHE / "go-build"), "GOPATH": str(CACHE / "gopath"),
            "GOARCH": GOARCH[arch],
        }  # fmt: skip
        done = subprocess.run(
            [go, "build", "-o", str(tmp), str(src)], capture_output=True, env=env, timeout=300
        )
        if done.returncode != 0:
            missing(f"cannot build {source}: {done.stderr.decode()[-400:]}")
        tmp.rename(out)
    return out


def native_argv(binary: Path, arch: str) -> list[str]:
    """How to run the binary natively: directly, or under qemu-user for another architecture."""
    if arch == "x86_64":
        return [str(binary)]
    return [require_tool(QEMU[arch]), str(binary)]
