"""Shared fixtures: sample paths, a ttdbg runner with timeouts, tool requirements, polling."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, settings

# Property tests assert behaviour, not speed: no per-example deadline, and slow data generation
# on a busy 2-core machine (two test workers) is not a failure.
settings.register_profile("ttdbg", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ttdbg")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_traces"
BIN = SAMPLES / "bin"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def poll(
    condition: Callable[[], bool],
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.005,
) -> None:
    """Wait until `condition()` holds; after `timeout` seconds fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what() if callable(what) else what}"
        )
        time.sleep(interval)


def require_tool(name: str) -> str:
    """The path of a host tool; in CI a missing tool fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path


def missing(what: str) -> NoReturn:
    """A host requirement is absent: a failure in CI (.ci/run installs it), else a skip."""
    if IN_CI:
        pytest.fail(f"{what}, and CI requires it")
    pytest.skip(what)


def run_ttdbg(
    args: Sequence[str],
    stdin: bytes = b"",
    timeout: float = 120,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the ttdbg command in a subprocess, with a timeout, capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "ttdbg", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def run_native(
    argv: Sequence[str], stdin: bytes = b"", timeout: float = 60, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def tmp_rec(tmp_path: Path) -> Path:
    return tmp_path / "rec.ttrec"


def stop_packet(recording: Path, signal: int = 5) -> bytes:
    """The start of the stop reply gdb gets for a recording: the T packet naming its main
    thread, whose id is the process id the recording holds (its START event)."""
    from ttdbg.backend.recording import open_recording

    pid = int.from_bytes(open_recording(str(recording)).events[0].payload[:4], "little")
    return b"T%02xthread:%x;" % (signal, pid)


def file_tree(
    root: Path, explicit_mtime_before: float = 1_600_000_000
) -> dict[str, tuple[object, ...]]:
    """What a run left under `root`: each entry's type, size, mode and link target, and its
    mtime when it is older than `explicit_mtime_before` (set on purpose, not "now")."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            mtime = st.st_mtime_ns if st.st_mtime < explicit_mtime_before else None
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path), mtime)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode), mtime)
            else:
                found[rel] = ("file", st.st_size, stat.S_IMODE(st.st_mode), mtime)
    return found
