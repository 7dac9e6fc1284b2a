"""Round trips of stepi and reverse-stepi through real gdb: ttdbg's stub against gdbserver."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
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


def _run_gdb(port: int, elf: Path, reverse: bool, count: int, gdb: str) -> dict[str, float]:
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


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gdb_figures(
    rec_path: Path, elf: Path, arch: str = "x86_64", count: int = 1000
) -> dict[str, Any]:
    """Our stub's stepi and reverse-stepi, and forward stepi of a native peer: Debian's
    gdbserver for x86-64, qemu-user's gdb stub for the other architectures."""
    names = ["gdb", "gdb-multiarch"] if arch == "x86_64" else ["gdb-multiarch"]
    gdb = next((p for p in map(shutil.which, names) if p), None)
    if gdb is None:
        return {"gdb_stepi_ms_p50": None, "gdb_rsi_ms_p50": None}
    rec = open_recording(str(rec_path))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/compute", rec.program_image))
    server.start()
    cpu = time.process_time()
    try:
        ours = _run_gdb(server.address[1], elf, True, count, gdb)
    finally:
        server.shutdown()
    cpu = time.process_time() - cpu
    figures: dict[str, Any] = {
        "gdb_stepi_ms_p50": round(ours["stepi"], 3),
        "gdb_rsi_ms_p50": round(ours["reverse-stepi"], 3),
        # CPU time, not wall: what the stub costs whatever the machine's load. Under load the
        # wall figures grow with it (the stub's threads then wait for a CPU in each round trip).
        "gdb_stub_cpu_ms_per_step": round(cpu * 1000 / (2 * count), 3),
    }
    peer_name = "gdbserver" if arch == "x86_64" else f"qemu-{arch}"
    peer = shutil.which(peer_name)
    key = "gdbserver" if arch == "x86_64" else "qemu"
    if peer is None:
        figures[f"{key}_stepi_ms_p50"] = None
        figures[f"gdb_stepi_vs_{key}"] = None
        return figures
    port = free_port()
    command = [peer, f"127.0.0.1:{port}", str(elf)] if key == "gdbserver" else [
        peer, "-g", str(port), str(elf)]  # fmt: skip
    native = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not port_listening(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        peer_cpu = process_cpu(native.pid)
        theirs = _run_gdb(port, elf, False, count, gdb)
        peer_cpu = process_cpu(native.pid) - peer_cpu
    finally:
        native.kill()
        native.wait(timeout=30)
    figures[f"{key}_stepi_ms_p50"] = round(theirs["stepi"], 3)
    figures[f"{key}_cpu_ms_per_step"] = round(peer_cpu * 1000 / count, 3)
    figures[f"gdb_stepi_vs_{key}"] = round(ours["stepi"] / theirs["stepi"], 3)
    return figures


def port_listening(port: int) -> bool:
    """Whether a port is listening, without connecting (qemu serves one connection only)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return any(int(r[1].split(":")[1], 16) == port and r[3] == "0A" for r in rows)


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
