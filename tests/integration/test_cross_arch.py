"""AArch64 and RISC-V 64 guests: ttdbg's output equals the same binary under qemu-user."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BIN, SAMPLES, require_tool, run_native, run_ttdbg

ARCHES = ["aarch64", "riscv64"]
CASES = [
    ("hello", ["one", "two words"]),
    ("compute", []),
    ("overrun", []),
    ("walk", []),
    ("signals", []),
]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_record_matches_qemu_and_replays(
    arch: str, name: str, args: list[str], tmp_rec: Path
) -> None:
    qemu = require_tool(f"qemu-{arch}")
    program = BIN / arch / name
    native = run_native([qemu, str(program), *args], timeout=120)
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--", str(program), *args], timeout=300)
    assert rec.stdout == native.stdout
    assert rec.returncode == native.returncode
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)], b"other stdin", timeout=300)
    assert rep.returncode == native.returncode, rep.stderr
    assert b"verified" in rep.stderr
    assert rep.stdout == native.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_inputs_sample_reads_stdin_clock_random_and_a_file(arch: str, tmp_rec: Path) -> None:
    program = BIN / arch / "inputs"
    rec = run_ttdbg(
        ["record", "-o", str(tmp_rec), "--", str(program), "greeting.txt"],
        b"typed line\n",
        cwd=SAMPLES,
    )
    assert rec.returncode == 0, rec.stderr
    assert b"stdin: typed line" in rec.stdout
    assert b"greetings from a file" in rec.stdout
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)], cwd="/")
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ["hello", "compute", "inputs", "overrun", "walk"])
def test_committed_recordings_replay(arch: str, name: str) -> None:
    rep = run_ttdbg(["replay", "--verify", str(SAMPLES / arch / f"{name}.ttrec")], timeout=300)
    assert rep.returncode == (1 if name == "overrun" else 0), rep.stderr
    assert b"verified" in rep.stderr
