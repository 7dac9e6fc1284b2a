"""A recording of more than 10^9 instructions (bench/longcompute.c), built and recorded once
into the cache and reused while the source and the recording formats stay the same."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from ttdbg.backend.eventlog import EVENTLOG_VERSION
from ttdbg.backend.recfile import FORMAT_VERSION
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.errors import TtdbgError
from ttdbg.snapshots.state import HASH_VERSION

SOURCE = Path(__file__).resolve().parent / "longcompute.c"
CACHE = Path.home() / ".cache" / "ttdbg-tests" / "bench"
LONG_ICOUNT = 10**9


def _key() -> str:
    versions = f"{FORMAT_VERSION}.{EVENTLOG_VERSION}.{HASH_VERSION}".encode()
    return hashlib.sha256(SOURCE.read_bytes() + versions).hexdigest()[:16]


def long_recording() -> Path:
    """The cached recording of bench/longcompute.c (at least 10^9 instructions), made first
    if the cache lacks it or holds one this ttdbg cannot open."""
    key = _key()
    program, out = CACHE / f"longcompute-{key}", CACHE / f"longcompute-{key}.ttrec"
    if out.exists():
        try:
            if open_recording(str(out)).last_known_icount >= LONG_ICOUNT:
                return out
        except TtdbgError:
            pass
    CACHE.mkdir(parents=True, exist_ok=True)
    if not program.exists():
        tmp = program.with_suffix(".tmp")
        cmd = [
            "gcc",
            "-g",
            "-O1",
            "-fno-omit-frame-pointer",
            "-static",
            "-o",
            str(tmp),
            str(SOURCE),
        ]
        subprocess.run(cmd, check=True, timeout=180)
        tmp.rename(program)
    tmp_rec = out.with_suffix(".tmp")
    env = [b"PATH=/usr/bin:/bin", b"LANG=C.UTF-8"]
    result = Recorder(str(program), [b"longcompute"], env, str(tmp_rec)).run()
    if result.icount < LONG_ICOUNT:
        raise RuntimeError(f"{SOURCE.name} ran only {result.icount:,} instructions")
    tmp_rec.rename(out)
    return out
