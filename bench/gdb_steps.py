"""Round trips of stepi and reverse-stepi through real gdb: ttdbg's stub against gdbserver."""

from __future__ import annotations

import json
import os
import select
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

# Runs inside gdb: on each line "COMMAND COUNT" from stdin, run COMMAND (spaces spelled "_")
# COUNT times and write the seconds each took, as one JSON line, to descriptor RESULTS.
GDB_SCRIPT = """
import gdb, json, os, sys, time
results = os.fdopen(RESULTS, "w")
for line in iter(sys.stdin.readline, ""):
    command, count = line.split()
    command = command.replace("_", " ")
    times = []
    for _ in range(int(count)):
        start = time.perf_counter()
        gdb.execute(command, to_string=True)
        times.append(time.perf_counter() - start)
    results.write(json.dumps(times) + "\\n")
    results.flush()
"""
BLOCK = 100  # stepi per turn: ours and the peer's turns alternate, so both see the same load
REPLY_TIMEOUT = 600.0


class GdbDriver:
    """A gdb attached to a target and stopped in main, running commands in timed blocks."""

    def __init__(self, gdb: str, elf: Path, port: int) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            self._read, write = os.pipe()
            f.write(GDB_SCRIPT.replace("RESULTS", str(write)))
        self._script = Path(f.name)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", f"file {elf}",
                "-ex", f"target remote 127.0.0.1:{port}", "-ex", "break main",
                "-ex", "continue", "-ex", f"source {self._script}"]  # fmt: skip
        # gdb prints each stop on stdout even under to_string: into the void, not through a
        # pipe this process (the stub's) would wake up for at every step.
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr,
            pass_fds=(write,),
        )  # fmt: skip
        os.close(write)

    def times(self, command: str, count: int) -> list[float]:
        """Seconds each of `count` runs of `command` took."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{command.replace(' ', '_')} {count}\n".encode())
        self._proc.stdin.flush()
        line = b""
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise RuntimeError(f"gdb did not report in time: {self._error()}")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError(f"gdb ended: {self._error()}")
            line += chunk
        return [float(t) for t in json.loads(line)]

    def _error(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-500:].decode(errors="replace")

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=30)
        os.close(self._read)
        self._stderr.close()
        self._script.unlink()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ms(times: list[float], q: float) -> float:
    """The q-quantile of `times` (seconds), in milliseconds."""
    ordered = sorted(times)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def gdb_figures(
    rec_path: Path, elf: Path, arch: str = "x86_64", count: int = 1000
) -> dict[str, Any]:
    """Our stub's stepi and reverse-stepi, and forward stepi of a native peer: Debian's
    gdbserver for x86-64, qemu-user's gdb stub for the other architectures.

    The two stepi series run at the same time, in alternating blocks of BLOCK steps (the
    order flipped every round): on a shared machine the load changes within seconds, and
    series measured one after the other compared different loads (the ratio went from 1.4
    to 7 in one hour). CPU time per step is the figure the load does not move."""
    names = ["gdb", "gdb-multiarch"] if arch == "x86_64" else ["gdb-multiarch"]
    gdb = next((p for p in map(shutil.which, names) if p), None)
    if gdb is None:
        return {"gdb_stepi_ms_p50": None, "gdb_rsi_ms_p50": None}
    peer_name = "gdbserver" if arch == "x86_64" else f"qemu-{arch}"
    peer = shutil.which(peer_name)
    key = "gdbserver" if arch == "x86_64" else "qemu"
    rec = open_recording(str(rec_path))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/compute", rec.program_image))
    server.start()
    native: subprocess.Popen[bytes] | None = None
    drivers: list[GdbDriver] = []
    ours: list[float] = []
    theirs: list[float] = []
    cpu = peer_cpu = 0.0
    try:
        our_gdb = GdbDriver(gdb, elf, server.address[1])
        drivers.append(our_gdb)
        their_gdb = None
        if peer is not None:
            port = free_port()
            command = [peer, f"127.0.0.1:{port}", str(elf)] if key == "gdbserver" else [
                peer, "-g", str(port), str(elf)]  # fmt: skip
            native = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while not port_listening(port) and time.monotonic() < deadline:
                time.sleep(0.01)
            their_gdb = GdbDriver(gdb, elf, port)
            drivers.append(their_gdb)
        for turn in range(-(-count // BLOCK)):
            n = min(BLOCK, count - turn * BLOCK)
            for side in (0, 1) if turn % 2 == 0 else (1, 0):
                if side == 0:
                    started = time.process_time()
                    ours += our_gdb.times("stepi", n)
                    cpu += time.process_time() - started
                elif their_gdb is not None and native is not None:
                    started_peer = process_cpu(native.pid)
                    theirs += their_gdb.times("stepi", n)
                    peer_cpu += process_cpu(native.pid) - started_peer
        started = time.process_time()
        reverse = our_gdb.times("reverse-stepi", count)
        cpu += time.process_time() - started
    finally:
        for driver in drivers:
            driver.close()
        server.shutdown()
        if native is not None:
            native.kill()
            native.wait(timeout=30)
    figures: dict[str, Any] = {
        "gdb_stepi_ms_p50": ms(ours, 0.5),
        "gdb_stepi_ms_p95": ms(ours, 0.95),
        "gdb_rsi_ms_p50": ms(reverse, 0.5),
        # CPU time, not wall: what the stub costs whatever the machine's load. Under load the
        # wall figures grow with it (the stub's threads then wait for a CPU in each round trip).
        "gdb_stub_cpu_ms_per_step": round(cpu * 1000 / (2 * count), 3),
    }
    if not theirs:
        figures[f"{key}_stepi_ms_p50"] = None
        figures[f"gdb_stepi_vs_{key}"] = None
        return figures
    figures[f"{key}_stepi_ms_p50"] = ms(theirs, 0.5)
    figures[f"{key}_stepi_ms_p95"] = ms(theirs, 0.95)
    figures[f"{key}_cpu_ms_per_step"] = round(peer_cpu * 1000 / count, 3)
    figures[f"gdb_stepi_vs_{key}"] = round(ms(ours, 0.5) / ms(theirs, 0.5), 3)
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
