"""Recordings written by an attacker: names, sizes and contents chosen to escape or exhaust."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tests.conftest import SAMPLES, require_tool, run_ttdbg
from tests.recedit import edit_header


def test_gdb_writes_the_program_under_a_fixed_name_whatever_the_header_says(
    tmp_path: Path,
) -> None:
    require_tool("gdb")
    tmpdir = tmp_path / "a" / "b"
    tmpdir.mkdir(parents=True)

    def hostile(header: dict[str, Any]) -> None:
        header["program"] = "../../x"

    rec = edit_header(SAMPLES / "walk.ttrec", tmp_path / "evil.ttrec", hostile)
    proc = run_ttdbg(
        ["gdb", str(rec), "--", "-nx", "-batch", "-ex", "info files"],
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    text = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, text
    # TMPDIR/ttdbg-XXXX/../../x is tmp_path/a/x: nothing may appear there or anywhere near.
    assert not (tmp_path / "a" / "x").exists()
    written = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= {"evil.ttrec", "evil.ttrec.ttsession"}, written
    # gdb read the program's symbols from the copy under its fixed name.
    assert re.search(rf"{re.escape(str(tmpdir))}/ttdbg-\w+/program\b", text), text
