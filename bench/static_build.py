"""The bench's own C programs, built static once into a cache keyed by their source."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

CACHE = Path.home() / ".cache" / "ttdbg-tests" / "bench"


def static_build(source: Path, *flags: str) -> Path:
    """`source` built with gcc -O1 -static and `flags`, reused while the source is the same."""
    key = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    out = CACHE / f"{source.stem}-{key}"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        cmd = ["gcc", "-O1", "-static", *flags, "-o", str(tmp), str(source)]
        subprocess.run(cmd, check=True, timeout=180)
        tmp.rename(out)
    return out
