"""What a recording holds of the host (environment, files read) is shown and can be limited."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lz4.frame

from tests.conftest import BIN, SAMPLES, require_tool, run_ttdbg
from tests.recedit import edit_header
from ttdbg.backend.recfile import read_frames

SECRET = "hunter2-do-not-store"
HOST_ENV = {"PATH": "/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY": SECRET, "SECRET_TOKEN": SECRET}


def record_env(tmp_path: Path, *options: str) -> tuple[Path, list[str]]:
    """Record busybox env under HOST_ENV; (the recording, the variables the guest printed)."""
    busybox = require_tool("busybox")
    rec = tmp_path / "env.ttrec"
    proc = run_ttdbg(
        ["record", "-o", str(rec), *options, "--", busybox, "env"], env={**os.environ, **HOST_ENV}
    )
    assert proc.returncode == 0, proc.stderr
    return rec, proc.stdout.decode().splitlines()


def info_json(rec: Path) -> dict[str, Any]:
    proc = run_ttdbg(["info", "--json", str(rec)])
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def stored_bytes(rec: Path) -> bytes:
    """Everything the recording holds, lz4 frames inflated."""
    parts = []
    for frame in read_frames(str(rec))[0]:
        parts.append(frame.payload)
        for start in range(len(frame.payload) - 3):
            if frame.payload[start : start + 4] == b"\x04\x22\x4d\x18":  # an lz4 frame's magic
                parts.append(lz4.frame.decompress(frame.payload[start:]))
                break
    return b"".join(parts)


def test_info_shows_the_environment_and_the_files_the_program_opened(tmp_path: Path) -> None:
    rec, printed = record_env(tmp_path)
    assert f"SECRET_TOKEN={SECRET}" in printed  # by default the guest gets the environment...
    text = run_ttdbg(["info", str(rec)]).stdout.decode()
    assert f"  SECRET_TOKEN={SECRET}" in text  # ...and info says the recording holds it
    assert f"environment: {len(info_json(rec)['env'])} variables (stored in the recording)" in text
    inputs = tmp_path / "inputs.ttrec"
    proc = run_ttdbg(
        ["record", "-o", str(inputs), "--", str(BIN / "inputs"), "greeting.txt"],
        stdin=b"a line\n",
        cwd=SAMPLES,
    )
    assert proc.returncode == 0, proc.stderr
    assert info_json(inputs)["opened_files"] == [str(SAMPLES / "greeting.txt")]
    assert f"  {SAMPLES / 'greeting.txt'}" in run_ttdbg(["info", str(inputs)]).stdout.decode()


def test_env_deny_keeps_secrets_out_of_the_guest_and_the_file(tmp_path: Path) -> None:
    rec, printed = record_env(tmp_path, "--env-deny", "AWS_*", "--env-deny", "SECRET_*")
    assert "PATH=/usr/bin:/bin" in printed
    assert not [line for line in printed if SECRET in line]
    assert not [var for var in info_json(rec)["env"] if SECRET in var]
    assert SECRET.encode() not in stored_bytes(rec)


def test_env_allow_keeps_only_matching_names(tmp_path: Path) -> None:
    rec, printed = record_env(tmp_path, "--env-allow", "PAT?")
    assert printed == ["PATH=/usr/bin:/bin"]
    assert info_json(rec)["env"] == ["PATH=/usr/bin:/bin"]


def test_dash_i_records_an_empty_environment(tmp_path: Path) -> None:
    rec, printed = record_env(tmp_path, "-i")
    assert printed == []
    assert info_json(rec)["env"] == []
    assert SECRET.encode() not in stored_bytes(rec)


def test_info_escapes_control_characters_from_the_recording(tmp_path: Path) -> None:
    def hostile(header: dict[str, Any]) -> None:
        header["argv"] = ["prog", "\x1b[2J\x1b]0;owned\x07"]
        header["env"] = ["X=\x9b31m"]

    rec = edit_header(SAMPLES / "hello.ttrec", tmp_path / "esc.ttrec", hostile)
    proc = run_ttdbg(["info", str(rec)])
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "\x1b" not in text
    assert "\x9b" not in text
    assert "\x07" not in text
    assert "prog \\x1b[2J\\x1b]0;owned\\x07" in text
    assert "X=\\x9b31m" in text
