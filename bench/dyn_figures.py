"""Dynamic executables: a dynamic hello world against the static one, and python3 -c pass."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import replay

HELLO = '#include <stdio.h>\nint main(void) { puts("hello, world"); return 0; }\n'
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
PYTHON = "/usr/bin/python3"


def _record(argv: list[str], out: Path) -> Any:
    return Recorder(argv[0], [a.encode() for a in argv], [], str(out)).run()


def dyn_figures(static_hello: Path, arch: str, best_of: Any, repeats: int) -> dict[str, Any]:
    """Record/replay time and size of a dynamic hello world (built here with the arch's gcc),
    its record time over the static hello's, and on x86-64 the host's `python3 -c pass`."""
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-bench-dyn-"))
    (tmp / "hello.c").write_text(HELLO)
    dyn = tmp / "hello"
    subprocess.run([COMPILERS[arch], "-o", str(dyn), str(tmp / "hello.c")], check=True)
    rec_path = tmp / "hello.ttrec"
    record_s, _ = best_of(repeats, lambda: _record([str(dyn)], rec_path))
    replay_s, _ = best_of(repeats, lambda: replay(open_recording(str(rec_path))))
    static_s, _ = best_of(repeats, lambda: _record([str(static_hello)], tmp / "static.ttrec"))
    figures: dict[str, Any] = {
        "dyn_hello_record_s": round(record_s, 3),
        "dyn_hello_replay_s": round(replay_s, 3),
        "dyn_hello_bytes": os.path.getsize(rec_path),
        "static_hello_record_s": round(static_s, 3),
        "dyn_over_static_record": round(record_s / static_s, 2),
    }
    if arch == "x86_64" and os.path.exists(PYTHON):
        py_path = tmp / "python.ttrec"
        py_s, result = best_of(1, lambda: _record([PYTHON, "-c", "pass"], py_path))
        figures |= {
            "python_pass_icount": result.icount,
            "python_pass_record_s": round(py_s, 2),
            "python_pass_bytes": os.path.getsize(py_path),
        }
    return figures
