"""Seeded, time-bounded structure-aware fuzzing of recordings through `info` and `replay
--verify`: every outcome is a normal run or a one-line error, never a traceback or a hang."""

from __future__ import annotations

import collections
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.fuzz.mutate import Frames, mutate
from ttdbg.backend.recfile import FrameType, read_frames

# Longer or other campaigns: TTDBG_FUZZ_SEED=7 TTDBG_FUZZ_SECONDS=600 pytest -s tests/fuzz
SEED = int(os.environ.get("TTDBG_FUZZ_SEED", "1313"))
BUDGET_SECONDS = float(os.environ.get("TTDBG_FUZZ_SECONDS", "45"))  # all cases together
# One command on one case; longer is a hang. Generous: lz4 bombs inflate up to their limit
# (~5 s on an idle machine) and the machine running the suite may be busy.
CASE_SECONDS = 30.0
ADDRESS_SPACE = 4 << 30  # Unicorn alone reserves ~2.5 GiB of address space
BATCH = 8
SOURCES = ["hello.ttrec", "inputs.ttrec", "aarch64/hello.ttrec"]


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _frames(name: str) -> Frames:
    frames, _truncated = read_frames(str(SAMPLES / name))
    return [(int(f.type), f.payload) for f in frames if f.type != FrameType.INDEX]


def _run_batch(paths: list[Path]) -> list[dict[str, str]]:
    """Outcomes of a worker subprocess over `paths`; a case that kills the worker (a crash,
    the address-space cap) is reported as such and the rest run in a new worker."""
    results: list[dict[str, str]] = []
    pending = [str(p) for p in paths]
    while pending:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.fuzz.worker", str(CASE_SECONDS), *pending],
            capture_output=True,
            timeout=CASE_SECONDS * 2 * len(pending) + 60,
            preexec_fn=_cap_address_space,
            cwd=ROOT,
        )
        done = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        results += done
        finished = {r["case"] for r in done if r["command"] == "replay"}
        pending = [p for p in pending if p not in finished]
        if pending:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            results.append(
                {"case": pending[0], "command": "?", "outcome": f"worker died ({proc.returncode})",
                 "message": tail[0][:200]}
            )  # fmt: skip
            pending = pending[1:]
    return results


@pytest.mark.slow
def test_mutated_recordings_give_a_normal_run_or_a_one_line_error(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    sources = {name: _frames(name) for name in SOURCES}
    deadline = time.monotonic() + BUDGET_SECONDS
    results: list[dict[str, str]] = []
    mutators: dict[str, str] = {}
    cases = 0
    while time.monotonic() < deadline:
        batch = []
        for _ in range(BATCH):
            source = rng.choice(SOURCES)
            name, data = mutate(rng, sources[source])
            path = tmp_path / f"case{cases:05d}.ttrec"
            path.write_bytes(data)
            mutators[str(path)] = f"{name} of {source}"
            batch.append(path)
            cases += 1
        results += _run_batch(batch)
    classes = collections.Counter(r["outcome"] for r in results)
    by_mutator = collections.Counter(
        (mutators[r["case"]].split()[0], r["outcome"]) for r in results
    )
    print(f"\nfuzzing: seed {SEED}, {cases} mutated recordings, {len(results)} runs")
    for outcome, count in classes.most_common():
        print(f"  {count:5d}  {outcome}")
    for (mutator, outcome), count in sorted(by_mutator.items()):
        print(f"  {count:5d}  {mutator:16s} {outcome}")
    bad = [r for r in results if r["outcome"] not in ("ok", "error", "replay-stopped")]
    assert cases >= 16, "the machine is too slow to fuzz meaningfully in the budget"
    assert not bad, "\n".join(
        f"{mutators[r['case']]} ({r['case']}): {r['command']}: {r['outcome']}: {r['message']}"
        for r in bad[:20]
    )
