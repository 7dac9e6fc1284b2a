"""Shared fixtures: sample paths, a ttdbg runner with timeouts, and tool requirements."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_traces"
BIN = SAMPLES / "bin"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """The path of a host tool; in CI a missing tool fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI but not installed")
        pytest.skip(f"{name} not installed")
    return path


def run_ttdbg(
    args: Sequence[str],
    stdin: bytes = b"",
    timeout: float = 120,
    cwd: Path | str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the ttdbg command in a subprocess, with a timeout, capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "ttdbg", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
    )


def run_native(
    argv: Sequence[str], stdin: bytes = b"", timeout: float = 60, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def tmp_rec(tmp_path: Path) -> Path:
    return tmp_path / "rec.ttrec"
