"""A recording of more than 10^9 instructions (the compute sample with 40 hash rounds), built
and recorded once into the cache and reused while the source and the recording formats stay
the same."""

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

SOURCE = Path(__file__).resolve().parent.parent / "sample_traces" / "src" / "compute.c"
FLAGS = ["-g", "-O1", "-fno-omit-frame-pointer", "-static"]
ROUNDS = (b"round < 3;", b"round < 40;")  # the sample's hash rounds, raised
CACHE = Path.home() / ".cache" / "ttdbg-tests" / "bench"
LONG_ICOUNT = 10**9


def _key() -> str:
    versions = f"{FORMAT_VERSION}.{EVENTLOG_VERSION}.{HASH_VERSION}".encode()
    flags = " ".join(FLAGS).encode()
    return hashlib.sha256(_source() + flags + versions).hexdigest()[:16]


def _source() -> bytes:
    text = SOURCE.read_bytes()
    if text.count(ROUNDS[0]) != 1:
        raise RuntimeError(f"{SOURCE} no longer has one '{ROUNDS[0].decode()}' to raise")
    return text.replace(*ROUNDS)


def long_recording() -> Path:
    """The cached recording of the long compute program (at least 10^9 instructions), made first
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
        cmd = ["gcc", *FLAGS, "-x", "c", "-o", str(tmp), "-"]
        subprocess.run(cmd, input=_source(), check=True, timeout=180)
        tmp.rename(program)
    tmp_rec = out.with_suffix(".tmp")
    env = [b"PATH=/usr/bin:/bin", b"LANG=C.UTF-8"]
    result = Recorder(str(program), [b"longcompute"], env, str(tmp_rec)).run()
    if result.icount < LONG_ICOUNT:
        raise RuntimeError(f"{program.name} ran only {result.icount:,} instructions")
    tmp_rec.rename(out)
    return out
