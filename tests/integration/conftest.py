"""Fixtures the gdb tests on the walk sample share: gdb itself and walk recorded."""

from __future__ import annotations

import pytest

from tests.conftest import BIN, require_tool
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording


@pytest.fixture(scope="module")
def gdb() -> str:
    return require_tool("gdb")


@pytest.fixture(scope="module")
def walk_rec(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """walk recorded with short snapshot intervals: its loop spans many, so runs backwards
    cross them."""
    path = tmp_path_factory.mktemp("walk") / "walk.ttrec"
    Recorder(
        str(BIN / "walk"), [b"walk"], [b"PATH=/usr/bin:/bin"], str(path), snapshot_every=300
    ).run()
    return open_recording(str(path))
