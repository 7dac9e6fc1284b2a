"""Guest memory costs what the guest touches, and record --max-memory ends a recording cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg

BIG_MAPPING = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
int main(int argc, char **argv) {
    size_t size = strtoull(argv[1], 0, 0), touch = strtoull(argv[2], 0, 0);
    char *p = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    for (size_t i = 0; i < touch; i += 4096) p[i] = 1;
    printf("mapped %zu, touched %zu\n", size, touch);
    return 0;
}
"""


@pytest.fixture(scope="module")
def big_mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = require_tool("gcc")
    where = tmp_path_factory.mktemp("mem")
    (where / "big.c").write_text(BIG_MAPPING)
    subprocess.run(
        [gcc, "-O1", "-static", "-o", str(where / "big"), str(where / "big.c")],
        check=True,
        timeout=120,
    )
    return where / "big"


def peak_rss(args: list[str]) -> tuple[int, str]:
    """(peak resident bytes, stderr) of `ttdbg ARGS`, measured by a parent of its own."""
    measure = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], capture_output=True, timeout=600); "
        "sys.stderr.buffer.write(p.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, p.returncode)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, "-m", "ttdbg", *args],
        capture_output=True,
        timeout=700,
    )
    rss, status = proc.stdout.split()
    assert int(status) == 0, proc.stderr
    return int(rss), proc.stderr.decode()


# What record and replay --verify may use besides the guest's touched memory and what they
# use for a guest that touches nothing (Python, Unicorn, the scan buffers, page digests).
SLACK = 64 << 20


@pytest.mark.slow
def test_record_and_verify_follow_the_touched_memory(big_mapping: Path, tmp_path: Path) -> None:
    """A guest mapping 4 GiB: record and replay --verify cost what it touches once (the
    emulator's pages), plus what they cost when it touches nothing. Before, record kept a
    second copy of the touched pages for the snapshot deltas (2.5 times the touched size)
    and verify two more: the stored snapshot's pages and the replayed state's."""
    touched = 256 << 20
    peaks: dict[int, tuple[int, int]] = {}
    for touch in (1, touched):
        rec = tmp_path / f"touch{touch}.ttrec"
        recorded, _err = peak_rss(["record", "-o", str(rec), "--", str(big_mapping),
                                   "0x100000000", hex(touch)])  # fmt: skip
        verified, err = peak_rss(["replay", "--verify", str(rec)])
        assert "verified 2 snapshots" in err
        peaks[touch] = recorded, verified
    assert max(peaks[1]) < 512 << 20, f"touching one byte: record, verify peaked at {peaks[1]}"
    runs = ("record", "replay --verify")
    for what, fixed, peak in zip(runs, peaks[1], peaks[touched], strict=True):
        assert peak < fixed + touched + SLACK, (
            f"{what} peaked at {peak:,} bytes touching {touched:,} ({fixed:,} touching one byte)"
        )


def test_max_memory_ends_the_recording_cleanly(big_mapping: Path, tmp_path: Path) -> None:
    rec = tmp_path / "over.ttrec"
    proc = run_ttdbg(
        ["record", "--max-memory", "16M", "--snapshot-every", "50000", "-o", str(rec), "--",
         str(big_mapping), "0x10000000", "0x10000000"],
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode().splitlines() == [
        "ttdbg: memory limit: the program uses more than 16,777,216 bytes "
        f"(ttdbg record --max-memory); recording saved up to there in {rec}"
    ]
    replay = run_ttdbg(["replay", "--verify", str(rec)])
    assert replay.returncode == 0, replay.stderr
    assert b"touched" not in replay.stdout  # the recording ended before the program did
    assert b"memory limit" in replay.stderr
