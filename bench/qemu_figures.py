"""The same firmware operations on qemu-system, for comparison with ttdbg's: running the
sample to completion with serial input (plain, and recording with -icount rr=record), and
gdb reverse-stepi / reverse-continue against its rr=replay with the snapshot reverse
debugging needs (a qcow2 image holds it)."""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
GDB_TIMEOUT = 60


@dataclass(frozen=True)
class QemuSample:
    """How QEMU runs a machine's sample: binary, machine options, the input that ends it, and
    the handler that writes its `ticks` counter."""

    binary: str
    machine: tuple[str, ...]
    stdin: bytes
    handler: str


QEMU = {
    ("virt", "riscv64"): QemuSample(
        "qemu-system-riscv64", ("-M", "virt", "-bios", "none"), b"hello\nquit\n", "trap_handler"
    ),
    ("virt", "aarch64"): QemuSample(
        "qemu-system-aarch64",
        ("-M", "virt", "-cpu", "cortex-a72", "-nic", "none"),
        b"hello\nsum\nquit\n",
        "irq_handler",
    ),
    ("lm3s6965evb", "armv7m"): QemuSample(
        "qemu-system-arm", ("-M", "lm3s6965evb", "-no-reboot"), b"hello\nq", "systick_handler"
    ),
    ("lm3s811evb", "armv7m"): QemuSample(
        "qemu-system-arm", ("-M", "lm3s811evb", "-no-reboot"), b"hello\nq", "systick_handler"
    ),
}
ICOUNT = "shift=3"  # ttdbg's default virtual time: 8 ns per instruction

# Run inside gdb-multiarch (its Python): time reverse commands against QEMU's replay.
GDB_SCRIPT = """
import gdb, statistics, time
gdb.execute("set pagination off")
gdb.execute("set confirm off")
for attempt in range(100):  # until QEMU listens (it starts paused)
    try:
        gdb.execute("target remote 127.0.0.1:%(port)d")
        break
    except gdb.error:
        time.sleep(0.05)
gdb.execute("break %(handler)s")
for _ in range(3):
    gdb.execute("continue", to_string=True)
gdb.execute("delete")
steps = []
for _ in range(10):
    start = time.perf_counter()
    gdb.execute("reverse-stepi", to_string=True)
    steps.append((time.perf_counter() - start) * 1000)
gdb.execute("watch ticks")
start = time.perf_counter()
gdb.execute("reverse-continue", to_string=True)
rc = (time.perf_counter() - start) * 1000
print("QEMU-FIGURES %%.2f %%.1f" %% (statistics.median(steps), rc))
gdb.execute("kill")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_figures(machine: str, arch: str, elf: Path, repeats: int) -> dict[str, Any]:
    """QEMU's figures for the sample, with ttdbg's record of the same run beside them; an
    explanation instead of a figure for what fails or is not installed."""
    sample = QEMU.get((machine, arch))
    qemu = shutil.which(sample.binary) if sample else None
    if sample is None or qemu is None:
        return {"fw_qemu": f"{sample.binary if sample else 'qemu'} not installed"}
    out: dict[str, Any] = {"fw_qemu_input": sample.stdin.decode().replace("\n", "\\n")}
    base = [qemu, *sample.machine, "-display", "none", "-monitor", "none"]
    kernel = ["-kernel", str(elf)]
    out["fw_qemu_run_s"] = _median_run(
        [*base, "-serial", "stdio", "-icount", ICOUNT, *kernel], sample.stdin, repeats
    )
    rec_path = Path(tempfile.gettempdir()) / "ttdbg-bench-fw.ttrec"
    out["fw_ttdbg_record_run_s"] = _median_run(
        [sys.executable, "-m", "ttdbg", "record", "--machine", machine, "-o", str(rec_path),
         str(elf)],
        sample.stdin, repeats,
    )  # fmt: skip
    if shutil.which("qemu-img") is None:
        out["fw_qemu_record_s"] = "qemu-img (qemu-utils) not installed: no snapshot image"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "snapshots.qcow2"
        made = subprocess.run(
            ["qemu-img", "create", "-f", "qcow2", str(image), "1M"], capture_output=True,
            timeout=TIMEOUT,
        )  # fmt: skip
        if made.returncode != 0:
            out["fw_qemu_record_s"] = "qemu-img failed: " + made.stderr.decode().strip()
            return out
        rr = f"rrfile={tmp}/fw.rr,rrsnapshot=init"
        drive = ["-drive", f"file={image},if=none,id=rr"]
        out["fw_qemu_record_s"] = _median_run(
            [*base, "-serial", "stdio", "-icount", f"{ICOUNT},rr=record,{rr}", *drive, *kernel],
            sample.stdin, 1,
        )  # fmt: skip
        if isinstance(out["fw_qemu_record_s"], float):
            out.update(_qemu_reverse(base, kernel, drive, rr, elf, sample.handler, tmp))
    return out


def _median_run(args: list[str], stdin: bytes, repeats: int) -> float | str:
    """The median wall time of `repeats` runs to completion, or why they did not complete."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            done = subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as err:
            seen = (err.stdout or b"").decode(errors="replace").strip().splitlines()
            last = f" (its output ends {seen[-1]!r})" if seen else ""
            return f"did not finish in {TIMEOUT} s{last}"
        if done.returncode != 0:
            return f"failed: {done.stderr.decode(errors='replace').strip()[:120]}"
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def _qemu_reverse(
    base: list[str], kernel: list[str], drive: list[str], rr: str, elf: Path, handler: str,
    tmp: str,
) -> dict[str, Any]:  # fmt: skip
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        return {"fw_qemu_rsi_ms_p50": "gdb-multiarch not installed"}
    port = _free_port()
    script = Path(tmp) / "reverse.py"
    script.write_text(GDB_SCRIPT % {"port": port, "handler": handler})
    replay = subprocess.Popen(
        [*base, "-serial", "null", "-icount", f"{ICOUNT},rr=replay,{rr}", *drive,
         "-gdb", f"tcp:127.0.0.1:{port}", "-S", *kernel],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        done = subprocess.run(
            [gdb, "-nx", "-batch", "-x", str(script), str(elf)], capture_output=True, text=True,
            timeout=GDB_TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        # QEMU 7.2 on lm3s6965evb: the replay cannot load its snapshot; gdb waits forever.
        return {"fw_qemu_rsi_ms_p50": f"gdb got no answer in {GDB_TIMEOUT} s from QEMU's replay"}
    finally:
        replay.kill()
        replay.wait(timeout=TIMEOUT)
    for line in done.stdout.splitlines():
        if line.startswith("QEMU-FIGURES "):
            rsi, rc = line.split()[1:]
            return {"fw_qemu_rsi_ms_p50": float(rsi), "fw_qemu_rc_ms": float(rc)}
    why = (done.stderr or done.stdout).strip().splitlines()
    return {"fw_qemu_rsi_ms_p50": "failed: " + (why[-1][:120] if why else "no output")}
