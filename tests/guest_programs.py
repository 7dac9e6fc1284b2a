"""The small C programs in tests/programs/, built static for each guest architecture and
cached under ~/.cache/ttdbg-tests/ (keyed by source, flags and compiler), never committed."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import require_tool

PROGRAMS = Path(__file__).resolve().parent / "programs"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ttdbg-tests" / "programs"
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
ARCHES = tuple(COMPILERS)
# Programs with their own _start: no C library, no start-up code before it.
NOSTDLIB = ("-nostdlib", "-fno-stack-protector", "-no-pie", "-fno-pie")


def build(name: str, arch: str, flags: Sequence[str] = ()) -> Path:
    """tests/programs/<name>.c built with `-O1 -static` plus `flags` for `arch`, from the
    cache when the same source, flags and compiler built it before."""
    cc = require_tool(COMPILERS[arch])
    source = PROGRAMS / f"{name}.c"
    argv = ["-O1", "-static", *flags]
    version = subprocess.run([cc, "--version"], capture_output=True, timeout=30, check=True).stdout
    key = hashlib.sha256(b"\0".join([source.read_bytes(), *map(str.encode, argv), version]))
    out = CACHE / f"{name}-{arch}-{key.hexdigest()[:16]}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        subprocess.run(
            [cc, *argv, "-o", str(partial), str(source)],
            capture_output=True,
            timeout=120,
            check=True,
        )
        partial.replace(out)  # atomic: a concurrent test never runs a half-written file
    return out


def native_command(arch: str, program: Path) -> list[str]:
    """How to run `program` outside ttdbg: directly on x86-64, under qemu-user elsewhere."""
    if arch == "x86_64":
        return [str(program)]
    return [require_tool(f"qemu-{arch}"), str(program)]
