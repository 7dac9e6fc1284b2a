"""Every sample recorded by ttdbg behaves as the native run, and replays byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BIN, SAMPLES, run_native, run_ttdbg

CASES = [
    ("hello", ["one", "two words"], b""),
    ("hello-pie", ["pie"], b""),
    ("hello-musl", ["musl"], b""),
    ("tiny", [], b""),
    ("overrun", [], b""),
    ("abort", [], b""),
    ("signals", [], b""),
]


@pytest.mark.parametrize(("name", "args", "stdin"), CASES, ids=[c[0] for c in CASES])
def test_record_matches_native_and_replay_matches_record(
    name: str, args: list[str], stdin: bytes, tmp_rec: Path
) -> None:
    argv = [str(BIN / name), *args]
    native = run_native(argv, stdin)
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--snapshot-every", "5000", "--", *argv], stdin)
    assert rec.stdout == native.stdout
    assert rec.returncode == (
        native.returncode if native.returncode >= 0 else 128 - native.returncode
    )
    # Replay needs no binary and no stdin, and verifies every snapshot on the way.
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)], b"different input\n")
    assert rep.returncode == rec.returncode, rep.stderr  # the program's status, as record's
    assert rep.stdout == native.stdout
    assert b"verified" in rep.stderr


def test_abort_ends_with_sigabrt(tmp_rec: Path) -> None:
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--", str(BIN / "abort")])
    assert rec.returncode == 134
    info = json.loads(run_ttdbg(["info", "--json", str(tmp_rec)]).stdout)
    assert info["exit_signal"] == 6
    assert info["truncated"] is False
    assert run_ttdbg(["replay", str(tmp_rec)]).returncode == 134  # 128 + SIGABRT, as a shell


@pytest.mark.parametrize(("name", "status"), [("hello", 0), ("overrun", 1), ("abort", 134)])
def test_replay_exits_with_the_recorded_programs_status(
    name: str, status: int, tmp_rec: Path
) -> None:
    """Scripts can test a replay's status as they would the native run's."""
    assert run_native([str(BIN / name)]).returncode in (status, 128 - status)
    assert run_ttdbg(["record", "-o", str(tmp_rec), "--", str(BIN / name)]).returncode == status
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.returncode == status, rep.stderr
    assert b"verified" in rep.stderr
    # Stopped before the end, the program has no status yet: 0, as for a finished replay.
    assert run_ttdbg(["replay", "--to", "100", str(tmp_rec)]).returncode == 0


def test_inputs_replay_ignores_todays_stdin_clock_and_randomness(tmp_rec: Path) -> None:
    argv = [str(BIN / "inputs"), "greeting.txt"]
    rec = run_ttdbg(["record", "-o", str(tmp_rec), "--", *argv], b"first input\n", cwd=SAMPLES)
    assert rec.returncode == 0
    out = rec.stdout.decode()
    assert "stdin: first input" in out
    assert "greetings from a file" in out
    # A second native-like recording sees other clocks and random bytes...
    again = run_ttdbg(
        ["record", "-o", str(tmp_rec) + ".2", "--", *argv], b"first input\n", cwd=SAMPLES
    )
    assert again.stdout != rec.stdout
    # ...but replay, from another directory, with other stdin, gives the recorded bytes.
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)], b"something else\n", cwd="/")
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout


@pytest.mark.parametrize("name", ["hello", "compute", "inputs", "overrun"])
def test_committed_recordings_still_replay(name: str) -> None:
    """A format change must keep reading these (or regenerate them), never break them."""
    rep = run_ttdbg(["replay", "--verify", str(SAMPLES / f"{name}.ttrec")], timeout=300)
    assert rep.returncode == (1 if name == "overrun" else 0), rep.stderr
    assert b"verified" in rep.stderr
    expected = {
        "hello": b"hello from ttdbg's sample, argc=3\nargv[1] = one\nargv[2] = two\n",
        "compute": run_native([str(BIN / "compute")]).stdout,
        "overrun": b"limit before: 100\ntotal 196, limit after: 56\n",
    }
    if name in expected:
        assert rep.stdout == expected[name]
    else:
        assert b"stdin: a line from stdin\n" in rep.stdout


def test_replay_to_stops_at_that_icount() -> None:
    rep = run_ttdbg(["replay", "--to", "1000", str(SAMPLES / "hello.ttrec")])
    assert rep.returncode == 0
    assert b"stopped at icount 1000" in rep.stderr
    assert rep.stdout == b""
