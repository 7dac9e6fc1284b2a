"""`#!` scripts run as execve runs them: the interpreter line becomes the command (with its
one optional argument, the script's path, then the arguments), scripts may name scripts, and
what Linux refuses is a one-line error with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_native, run_ttdbg

PYTHON_SCRIPT = """#!{python}
import json, os, sys
print(json.dumps({{
    "argv": sys.argv,
    "cmdline": open("/proc/self/cmdline", "rb").read().decode().split("\\0")[:-1],
    "executable": os.path.basename(sys.executable),
}}))
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _like_native(argv: list[str], tmp_path: Path) -> bytes:
    native = run_native(argv, timeout=60)
    rec = tmp_path / "script.ttrec"
    recorded = run_ttdbg(["record", "-o", str(rec), "--", *argv], timeout=300)
    assert (recorded.stdout, recorded.stderr) == (native.stdout, native.stderr)
    assert recorded.returncode == native.returncode
    replayed = run_ttdbg(["replay", "--verify", str(rec)], timeout=300)
    assert replayed.stdout == native.stdout, replayed.stderr
    assert replayed.returncode == native.returncode
    return native.stdout


def test_python_script_runs_by_its_interpreter_line(tmp_path: Path) -> None:
    python = require_tool("/usr/bin/python3")
    script = _script(tmp_path / "show.py", PYTHON_SCRIPT.format(python=python))
    out = json.loads(_like_native([str(script), "one", "two words"], tmp_path))
    assert out["argv"] == [str(script), "one", "two words"]
    assert out["cmdline"] == [python, str(script), "one", "two words"]


def test_interpreter_argument_and_nested_scripts(tmp_path: Path) -> None:
    cat = require_tool("cat")
    # One optional argument, the rest of the line trimmed, spaces inside it kept.
    lister = _script(tmp_path / "lister", f"#!  {cat} -n  \nbody\n")
    nested = _script(tmp_path / "nested", f"#!{lister}\nnested body\n")
    out = _like_native([str(nested), str(tmp_path / "missing")], tmp_path)
    assert b"nested body" in out
    assert b"#!  " in out


@pytest.mark.parametrize(
    ("text", "mode", "native", "message"),
    [
        ("#!/nonexistent/x\n", 0o755, FileNotFoundError, "bad interpreter /nonexistent/x"),
        ("#!\n", 0o755, OSError, "no interpreter"),
        ("#!/bin/sh\n", 0o644, PermissionError, "permission denied"),
    ],
)
def test_what_execve_refuses_is_one_line(
    tmp_path: Path, text: str, mode: int, native: type[OSError], message: str
) -> None:
    script = tmp_path / "refused"
    script.write_text(text)
    script.chmod(mode)
    with pytest.raises(native):  # execve itself refuses it natively
        run_native([str(script)], timeout=60)
    result = run_ttdbg(["record", "-o", str(tmp_path / "x.ttrec"), "--", str(script)])
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert not (tmp_path / "x.ttrec").exists()


EXEC_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char *args[] = {"x", NULL};
    const char *paths[] = {"/nonexistent/prog", "/tmp", argv[1], "", "/bin/true"};
    for (int i = 0; i < 5; i++) {
        execve(paths[i], args, NULL);
        printf("%s: %s\n", paths[i], strerrorname_np(errno));
        fflush(stdout);
    }
    return 3;
}
"""


def test_an_execve_linux_refuses_fails_as_there(tmp_path: Path) -> None:
    """env and execvp try each PATH entry: an execve Linux refuses (missing file, directory,
    not executable) returns its errno and the program goes on; one that would start a
    program ends the recording with a message naming it."""
    import subprocess

    cc = require_tool("gcc")
    source = tmp_path / "exec.c"
    source.write_text(EXEC_C)
    prog = tmp_path / "exec"
    subprocess.run([cc, "-o", str(prog), str(source)], check=True, timeout=120)
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    native = run_native([str(prog), str(plain)], timeout=60)
    assert native.returncode == 0  # /bin/true ran
    rec = tmp_path / "exec.ttrec"
    recorded = run_ttdbg(["record", "-o", str(rec), "--", str(prog), str(plain)], timeout=300)
    assert recorded.stdout == native.stdout
    assert native.stdout.count(b"\n") == 4, native.stdout
    assert recorded.returncode == 1
    assert "execve('/bin/true')" in recorded.stderr.decode()
    replayed = run_ttdbg(["replay", str(rec)], timeout=300)
    assert replayed.stdout == native.stdout
