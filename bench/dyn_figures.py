"""Dynamic executables: a dynamic hello world against the same program linked statically, and
python3 -c pass."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import tempfile
import time
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
# Recording a hello world takes a tenth of a second: this many alternating pairs, at least.
MIN_PAIRS = 9


def _record(argv: list[str], out: Path) -> Any:
    return Recorder(argv[0], [a.encode() for a in argv], [], str(out)).run()


def _timed_record(program: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one recording (after collecting the last one's garbage)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    _record([str(program)], out)
    return time.perf_counter() - wall, time.process_time() - cpu


def record_pair_figures(static: Path, dyn: Path, tmp: Path, pairs: int) -> dict[str, Any]:
    """The record time of `dyn` over that of `static` (one program linked both ways): the two
    recorded in turn, `pairs` times each after one untimed round. The ratio is the median of
    the pairs' ratios: the two runs of a pair share the machine's load, where the best of
    each would favour the shorter run, which more often slips through a busy machine
    unslowed. The times are the best of each."""
    _timed_record(static, tmp / "static.ttrec")
    _timed_record(dyn, tmp / "hello.ttrec")
    runs = [
        (_timed_record(static, tmp / "static.ttrec"), _timed_record(dyn, tmp / "hello.ttrec"))
        for _ in range(pairs)
    ]
    figures: dict[str, Any] = {}
    for i, suffix in ((0, ""), (1, "_cpu")):
        figures |= {
            f"dyn_hello_record{suffix}_s": round(min(d[i] for _s, d in runs), 3),
            f"static_hello_record{suffix}_s": round(min(s[i] for s, _d in runs), 3),
            f"dyn_over_static_record{suffix}": round(
                statistics.median(d[i] / s[i] for s, d in runs), 2
            ),
        }
    return figures


def dyn_figures(arch: str, best_of: Any, repeats: int) -> dict[str, Any]:
    """Record/replay time and size of a dynamic hello world, its record time over the same
    source linked statically (both built here with the arch's gcc), and on x86-64 the host's
    `python3 -c pass`."""
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-bench-dyn-"))
    (tmp / "hello.c").write_text(HELLO)
    dyn, static = tmp / "hello", tmp / "hello-static"
    for out, flags in ((dyn, []), (static, ["-static"])):
        cmd = [COMPILERS[arch], *flags, "-o", str(out), str(tmp / "hello.c")]
        subprocess.run(cmd, check=True, timeout=120)
    figures = record_pair_figures(static, dyn, tmp, max(repeats, MIN_PAIRS))
    rec_path = tmp / "hello.ttrec"
    replay_s, _ = best_of(repeats, lambda: replay(open_recording(str(rec_path))))
    figures |= {
        "dyn_hello_replay_s": round(replay_s, 3),
        "dyn_hello_bytes": os.path.getsize(rec_path),
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
