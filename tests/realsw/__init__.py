"""Real software built from Debian's source packages, run natively and under ttdbg."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import missing

HERE = Path(__file__).resolve().parent


def built_program(script: str, what: str) -> str:
    """The path of a program one of the build-*.sh scripts here builds (or finds cached)."""
    try:
        built = subprocess.run(["sh", str(HERE / script)], capture_output=True, timeout=1800)
    except subprocess.TimeoutExpired:
        missing(f"building {what} took too long")
    if built.returncode != 0:
        missing(f"{what} could not be built: {built.stderr.decode()[-500:]}")
    return built.stdout.decode().strip().splitlines()[-1]
