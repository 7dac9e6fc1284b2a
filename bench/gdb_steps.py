"""Round trips of stepi and reverse-stepi through real gdb: ttdbg's stub against gdbserver."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

# Runs inside gdb: time each command of a run of `count`, print the medians as JSON.
GDB_SCRIPT = """
import gdb, json, statistics, time
def median_ms(command, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        gdb.execute(command, to_string=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
result = {"stepi": median_ms("stepi", COUNT)}
if REVERSE:
    result["reverse-stepi"] = median_ms("reverse-stepi", COUNT)
print("RESULT " + json.dumps(result))
"""


def _run_gdb(port: int, elf: Path, reverse: bool, count: int) -> dict[str, float]:
    gdb = shutil.which("gdb") or shutil.which("gdb-multiarch")
    if gdb is None:
        raise RuntimeError("gdb not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(GDB_SCRIPT.replace("COUNT", str(count)).replace("REVERSE", str(reverse)))
        script = f.name
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", f"file {elf}",
            "-ex", f"target remote 127.0.0.1:{port}", "-ex", "break main", "-ex", "continue",
            "-ex", f"source {script}"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"gdb did not report: {out.stdout[-500:]} {out.stderr[-500:]}")


def gdb_figures(rec_path: Path, elf: Path, count: int = 1000) -> dict[str, Any]:
    rec = open_recording(str(rec_path))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/compute", rec.program_image))
    server.start()
    try:
        ours = _run_gdb(server.address[1], elf, reverse=True, count=count)
    finally:
        server.shutdown()
    figures: dict[str, Any] = {
        "gdb_stepi_ms_p50": round(ours["stepi"], 3),
        "gdb_rsi_ms_p50": round(ours["reverse-stepi"], 3),
    }
    gdbserver = shutil.which("gdbserver")
    if gdbserver is None:
        figures["gdbserver_stepi_ms_p50"] = None
        figures["gdb_stepi_vs_gdbserver"] = None
        return figures
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    native = subprocess.Popen(
        [gdbserver, f"127.0.0.1:{port}", str(elf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        theirs = _run_gdb(port, elf, reverse=False, count=count)
    finally:
        native.kill()
        native.wait(timeout=30)
    figures["gdbserver_stepi_ms_p50"] = round(theirs["stepi"], 3)
    figures["gdb_stepi_vs_gdbserver"] = round(ours["stepi"] / theirs["stepi"], 3)
    return figures
