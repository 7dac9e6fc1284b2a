"""`python -m bench [--json]`: record and replay speed against raw Unicorn, sizes, syscall cost."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import unicorn
from unicorn.unicorn_py3.unicorn import uclib

from bench.dyn_figures import dyn_figures
from bench.fw_figures import SAMPLES as FW_SAMPLES
from bench.fw_figures import fw_figures
from bench.gdb_steps import gdb_figures
from bench.index_figures import index_figures, last_write_figures
from bench.long_recording import long_recording
from bench.region_figures import region_figures
from bench.thread_figures import thread_figures
from bench.tui_figures import tui_figures
from ttdbg.backend.nativelib import lib as nativelib
from ttdbg.backend.recorder import DEFAULT_SNAPSHOT_EVERY, Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process, replay
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "sample_traces" / "bin"


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The median wall time of `repeats` runs of `fn`, and its last result."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def record(program: Path, out: Path, snapshot_every: int) -> Any:
    rec = Recorder(str(program), [str(program).encode()], [], str(out), snapshot_every)
    return rec.run()


def raw_unicorn(rec_path: Path, count_chunk: int = 0, empty_block_hook: bool = False) -> int:
    """Run the recorded program in bare Unicorn: no block counter, only the syscall hook.

    With `count_chunk`, run with Unicorn's own instruction count in chunks of that size, the
    straightforward way to get an exact icount. With `empty_block_hook`, a native block hook
    that does nothing takes the counter's place: the least any per-block count can cost.
    """
    rec = open_recording(str(rec_path))
    proc = new_replay_process(rec)
    m = proc.machine
    proc.inputs.check_icount = False
    uclib.uc_hook_del(m.uc._uch, m.counter._hook)
    if empty_block_hook:
        m.counter.add_native_hook(unicorn.UC_HOOK_BLOCK, nativelib.bc_empty_block_hook, None)
    while m.halted is None and proc.platform.end_of_log is None:
        assert proc.platform.error is None, proc.platform.error
        m.uc.emu_start(m.pc, 0, 0, count_chunk)
    return rec.last_known_icount


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timeline_figures(rec_path: Path, replay_s: float, seeks: int = 40) -> dict[str, Any]:
    """Seek, reverse-stepi and reverse-continue on the compute recording."""
    rng = random.Random(1)
    rec = open_recording(str(rec_path))
    tl = Timeline(rec)
    end = rec.last_known_icount
    seek_ms = []
    for _ in range(seeks):
        target = rng.randrange(end)
        start = time.perf_counter()
        tl.seek(target)
        seek_ms.append((time.perf_counter() - start) * 1000)
    # First reverse-stepi at a fresh random position (its state is not cached yet).
    tl = Timeline(open_recording(str(rec_path)))
    tl.seek(rng.randrange(end // 4, end))
    tl.cache.clear()
    start = time.perf_counter()
    tl.reverse_step()
    rsi_first = (time.perf_counter() - start) * 1000
    rsi_ms = []
    for _ in range(100):
        start = time.perf_counter()
        tl.reverse_step()
        rsi_ms.append((time.perf_counter() - start) * 1000)
    # Reverse-continue across the whole recording to a breakpoint at the entry point.
    tl = Timeline(open_recording(str(rec_path)))
    tl.seek(end)
    tl.add_breakpoint(rec.program.entry)
    start = time.perf_counter()
    stop = tl.reverse_continue()
    rc_s = time.perf_counter() - start
    assert stop.icount == 0, stop
    return {
        "seek_ms_p50": round(percentile(seek_ms, 0.5), 1),
        "seek_ms_p95": round(percentile(seek_ms, 0.95), 1),
        "rsi_first_ms": round(rsi_first, 1),
        "rsi_repeat_ms_p50": round(statistics.median(rsi_ms), 2),
        "rc_seconds": round(rc_s, 3),
        "rc_ratio": round(rc_s / replay_s, 3),
    }


def measure(repeats: int, snapshot_every: int, arch: str) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ttdbg-bench-"))
    bins = BIN if arch == "x86_64" else BIN / arch
    compute, syscalls = bins / "compute", bins / "syscalls"
    rec_path = tmp / "compute.ttrec"
    record_s, result = best_of(repeats, lambda: record(compute, rec_path, snapshot_every))
    icount = result.icount
    raw_s, _ = best_of(repeats, lambda: raw_unicorn(rec_path))
    count_s, _ = best_of(repeats, lambda: raw_unicorn(rec_path, 65536))
    rec = open_recording(str(rec_path))
    replay_s, rr = best_of(repeats, lambda: replay(open_recording(str(rec_path))))
    assert rr.icount == icount, "replay did not reach the recorded end"
    verify_s, _ = best_of(1, lambda: replay(open_recording(str(rec_path)), verify=True))

    sc_path = tmp / "syscalls.ttrec"
    sc_s, sc = best_of(repeats, lambda: record(syscalls, sc_path, snapshot_every))
    sc_events = sc.events
    sc_raw_s, _ = best_of(repeats, lambda: raw_unicorn(sc_path))
    sc_replay_s, _ = best_of(repeats, lambda: replay(open_recording(str(sc_path))))
    stored = rec.compressed_bytes["events"] + rec.compressed_bytes["snapshots"]
    timeline = timeline_figures(rec_path, replay_s)
    gdb = gdb_figures(rec_path, compute, arch)
    tui = tui_figures(rec_path)
    index = index_figures(rec_path, replay_s)
    index.update(last_write_figures(long_recording()))
    dyn = dyn_figures(arch, best_of, repeats)
    threads = thread_figures(best_of, raw_unicorn, repeats) if arch == "x86_64" else {}
    raw_mips = icount / raw_s / 1e6
    return {
        "arch": arch,
        "program": "compute",
        "icount": icount,
        "raw_mips": round(raw_mips, 1),
        "count_chunks_mips": round(icount / count_s / 1e6, 1),
        "record_mips": round(icount / record_s / 1e6, 1),
        "replay_mips": round(icount / replay_s / 1e6, 1),
        "verify_mips": round(icount / verify_s / 1e6, 1),
        "record_ratio": round(raw_s / record_s, 3),
        "replay_ratio": round(raw_s / replay_s, 3),
        "count_chunks_ratio": round(raw_s / count_s, 3),
        "snapshot_every": snapshot_every,
        "snapshots": len(rec.snapshots),
        "snapshot_bytes": rec.compressed_bytes["snapshots"],
        "snapshot_bytes_raw": (rec.end or {}).get("snapshot_bytes_raw"),
        "file_bytes": rec.file_size,
        "bytes_per_minsn": round(stored / (icount / 1e6), 1),
        "syscall_program_syscalls": sc_events,
        "syscall_us": round(sc_s / sc_events * 1e6, 2),
        "syscall_raw_us": round(sc_raw_s / sc_events * 1e6, 2),
        "syscall_replay_us": round(sc_replay_s / sc_events * 1e6, 2),
        **timeline,
        **gdb,
        **tui,
        **dyn,
        **index,
        **threads,
    }


def quietly(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `fn` with fd 1 sent to /dev/null: the guest programs print there, and their
    output must stay out of the report."""
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        return fn()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def only_dyn(repeats: int, arch: str) -> dict[str, Any]:
    """The dynamic-executable figures alone."""
    return dyn_figures(arch, best_of, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--snapshot-every", type=int, default=DEFAULT_SNAPSHOT_EVERY)
    parser.add_argument("--arch", choices=["x86_64", "aarch64", "riscv64"], default="x86_64")
    parser.add_argument(
        "--only-index", metavar="REC", type=Path, default=None,
        help="only the index figures, on this compute recording",
    )  # fmt: skip
    parser.add_argument(
        "--only-tui", metavar="REC", type=Path, default=None,
        help="only the TUI figures (160x48), on this compute recording",
    )  # fmt: skip
    parser.add_argument(
        "--only-dyn", action="store_true",
        help="only the dynamic-executable figures (dyn_hello_*, python_pass_*)",
    )  # fmt: skip
    parser.add_argument(
        "--only-threads", action="store_true",
        help="only the thread figures (threads_record_ratio, thread_switch_us, ...)",
    )  # fmt: skip
    parser.add_argument(
        "--only-regions", action="store_true",
        help="only the memory bookkeeping figures (reverse_step_*, load_state_*, maps_*)",
    )  # fmt: skip
    parser.add_argument(
        "--only-gdb", metavar="REC", type=Path, default=None,
        help="only the gdb stepi figures (against gdbserver), on this compute recording",
    )  # fmt: skip
    parser.add_argument(
        "--machine", metavar="NAME", default=None,
        help="only the firmware figures, on this machine's sample (virt: the RISC-V one)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.machine is not None:
        # --arch picks among machines of one name (virt); else the sample's own arch.
        known = [a for name, a in FW_SAMPLES if name == args.machine]
        arch = args.arch if args.arch != "x86_64" or not known else known[0]
        if (args.machine, arch) not in FW_SAMPLES:
            pairs = ", ".join(f"{name} ({a})" for name, a in FW_SAMPLES)
            parser.error(f"no firmware sample for {args.machine} ({arch}); the samples: {pairs}")
        figures = fw_figures(args.machine, arch, args.repeats)
        if args.json:
            print(json.dumps(figures, indent=2))
            return 0
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
        return 0
    if args.only_gdb is not None:
        bins = BIN if args.arch == "x86_64" else BIN / args.arch
        print(json.dumps(gdb_figures(args.only_gdb, bins / "compute", args.arch), indent=2))
        return 0
    if args.only_regions:
        print(json.dumps(quietly(lambda: region_figures(args.repeats)), indent=2))
        return 0
    if args.only_threads:
        figures = quietly(lambda: thread_figures(best_of, raw_unicorn, args.repeats))
        print(json.dumps(figures, indent=2))
        return 0
    if args.only_dyn:
        print(json.dumps(quietly(lambda: only_dyn(args.repeats, args.arch)), indent=2))
        return 0
    if args.only_tui is not None:
        print(json.dumps(tui_figures(args.only_tui), indent=2))
        return 0
    if args.only_index is not None:
        results = index_figures(args.only_index)
        results.update(last_write_figures(long_recording()))
        print(json.dumps(results, indent=2))
        return 0
    results = quietly(lambda: measure(args.repeats, args.snapshot_every, args.arch))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
