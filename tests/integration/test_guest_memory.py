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


@pytest.mark.slow
def test_mapping_4_gib_and_touching_one_byte_costs_little(
    big_mapping: Path, tmp_path: Path
) -> None:
    rec = tmp_path / "big.ttrec"
    rss, _err = peak_rss(["record", "-o", str(rec), "--", str(big_mapping), "0x100000000", "1"])
    assert rss < 512 << 20, f"record peaked at {rss:,} bytes"
    rss, err = peak_rss(["replay", "--verify", str(rec)])
    assert "verified 2 snapshots" in err
    assert rss < 512 << 20, f"replay --verify peaked at {rss:,} bytes"


@pytest.mark.slow
def test_record_keeps_one_copy_of_the_touched_memory(big_mapping: Path, tmp_path: Path) -> None:
    """Touching 256 MiB: Unicorn's pages plus one copy for the snapshot deltas, not a copy
    per state and per encoding step (it peaked at 4.5 times the touched size)."""
    touched = 256 << 20
    rec = tmp_path / "touch.ttrec"
    rss, _err = peak_rss(["record", "-o", str(rec), "--", str(big_mapping), hex(2 * touched),
                          hex(touched)])  # fmt: skip
    assert rss < (100 << 20) + 5 * touched // 2, f"record peaked at {rss:,} bytes"


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
