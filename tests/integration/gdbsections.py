"""gdb in batch mode, its output cut into what each command printed (shared by the tests that
compare gdb on a native program with ttdbg)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def gdb_sections(
    gdb: str, setup: list[str], commands: list[str], program: Path | None
) -> list[str]:
    """What gdb printed for each of `commands` after `setup`, in order (stdout only)."""
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    for cmd in setup:
        args += ["-ex", cmd]
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    if program is not None:
        args.append(str(program))
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=180, env={"PATH": "/usr/bin:/bin"}
    )
    return re.split(r"^@@@ .*\n", out.stdout, flags=re.M)[1:]


def normalized(section: str) -> str:
    """A section without blank lines, the end-of-batch detach line, and the word `Hardware`
    (software watchpoints on one side, hardware ones on the other)."""
    lines = [
        line.replace("Hardware watchpoint", "Watchpoint")
        for line in section.splitlines()
        if line.strip() and not re.fullmatch(r"\[Inferior \d+ \(.*\) detached\]", line)
    ]
    return "\n".join(lines)
