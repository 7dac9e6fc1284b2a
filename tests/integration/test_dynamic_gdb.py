"""gdb on dynamic recordings: shared libraries listed and debugged from the files the
recording holds (served over vFile), with the program's own library deleted from the host."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing, require_tool, run_ttdbg
from tests.integration.dynprogs import (
    LIBRARY,
    USES_LIBRARY,
    compile_source,
    record_with_vanished_library,
)


def ttdbg_gdb(rec: Path, commands: list[str], timeout: float = 240) -> list[str]:
    """Run `ttdbg gdb` in batch mode; the output of each command, in order."""
    args = [sys.executable, "-m", "ttdbg", "gdb", str(rec), "--", "-nx", "-batch",
            "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", "set sysroot target:"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd="/")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return re.split(r"^@@@ .*$", out, flags=re.M)


@pytest.fixture(scope="module")
def library_rec(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A recording of a program using a library from a directory deleted afterwards."""
    require_tool("gdb")
    return record_with_vanished_library(tmp_path_factory.mktemp("dyngdb"))


def test_shared_libraries_listed_and_broken_into(library_rec: tuple[Path, str]) -> None:
    rec, lib = library_rec
    start, brk, cont, bt, info, addr, fin = ttdbg_gdb(rec, [
        "break lib_add", "continue", "bt", "info sharedlibrary", "print &lib_add", "finish",
    ])  # fmt: skip
    assert f"Reading {lib} from remote target" in start + brk + cont
    assert "Breakpoint 1, lib_add (v=1)" in cont
    assert re.search(r"#0 +lib_add \(v=1\) at .*mine?\.c", bt) or "#0  lib_add (v=1)" in bt, bt
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c", bt), bt
    rows = {line.split()[-1]: line.split()[:2] for line in info.splitlines() if "0x" in line}
    assert f"target:{lib}" in rows, info
    assert any(name.endswith("libc.so.6") for name in rows), info
    low, high = (int(x, 16) for x in rows[f"target:{lib}"])
    where = int(re.search(r"0x[0-9a-f]+", addr).group(0), 16)  # type: ignore[union-attr]
    assert low <= where < high
    assert re.search(r"Value returned is \$\d+ = 1", fin), fin
    assert re.search(r"main \(\) at .*uses\.c", fin)


def test_libc_breakpoint_backtrace_and_reverse(library_rec: tuple[Path, str]) -> None:
    rec, _lib = library_rec
    out = ttdbg_gdb(rec, [
        "break puts", "continue", "bt", "reverse-finish", "watch watched",
        "reverse-continue", "reverse-continue", "continue",
    ])  # fmt: skip
    _start, _brk, cont, bt, rfin, _watch, rc1, rc2, fwd = out
    assert re.search(r"Breakpoint 1, .*puts .*\"done\"", cont), cont
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c:12", bt), bt
    assert re.search(r"main \(\) at .*uses\.c:12", rfin), rfin  # back at the call of puts
    # The last writes of `watched` (totals 6 then 10), found backwards across libc's printf;
    # gdb shows values in the direction it moves.
    assert re.search(r"Old value = 10\s+New value = 6\n", rc1), rc1
    assert re.search(r"Old value = 6\s+New value = 3\n", rc2), rc2
    assert re.search(r"Old value = 3\s+New value = 6\n", fwd), fwd


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_gdb_multiarch_breaks_in_libc(arch: str, tmp_path: Path) -> None:
    require_tool("gdb-multiarch")
    if not Path(f"/usr/{arch}-linux-gnu/lib").is_dir():
        missing(f"the {arch} C library is not installed")
    prog = compile_source(tmp_path, "uses", LIBRARY + USES_LIBRARY.split("int watched;")[1]
                          .replace("int main", "int watched;\nint main"), arch=arch)  # fmt: skip
    rec = tmp_path / "a.ttrec"
    proc = run_ttdbg(["record", "-o", str(rec), "--", str(prog)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    _s, _b, cont, bt, info = ttdbg_gdb(rec, ["break puts", "continue", "bt", "info sharedlibrary"])
    assert re.search(r"Breakpoint 1, .*puts", cont), cont
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c", bt), bt
    assert re.search(r"target:/lib/.*libc\.so\.6", info), info
