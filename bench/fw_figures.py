"""Firmware: recording a machine's sample against bare Unicorn running the same ELF, and
reverse-stepi / reverse-continue (to the previous interrupt-handler write) on the recording."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile

from bench.fw_bare import BareRun, BareStop, bare_run
from bench.qemu_figures import qemu_figures
from ttdbg.backend.machines import machine_spec
from ttdbg.backend.machines.recorder import FirmwareRecorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {
    ("virt", "riscv64"): ROOT / "sample_traces" / "firmware" / "riscv-virt" / "fw.elf",
    ("virt", "aarch64"): ROOT / "sample_traces" / "firmware" / "aarch64-virt" / "fw.elf",
    ("lm3s6965evb", "armv7m"): ROOT / "sample_traces" / "firmware" / "cortex-m" / "fw.elf",
    ("lm3s811evb", "armv7m"): ROOT / "sample_traces" / "firmware" / "cortex-m" / "fw.elf",
}
INSNS = 2_000_000  # the sample with its input closed: timer interrupts every few hundred


def _symbol(elf: Path, name: str) -> tuple[int, int]:
    """The address and size of symbol `name`."""
    with open(elf, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return int(sym["st_value"]), int(sym["st_size"])


def fw_figures(machine: str, arch: str, repeats: int) -> dict[str, Any]:
    elf = SAMPLES[(machine, arch)]
    spec = machine_spec(machine, arch, None, None)
    out: dict[str, Any] = {"fw_machine": f"{machine} ({arch})", "fw_insns": INSNS}
    with tempfile.TemporaryDirectory() as tmp:
        rec_path = Path(tmp) / "fw.ttrec"
        # Each repeat records, then runs bare Unicorn for as many instructions, so both of a
        # pair see about the same load (a shared machine's drifts apart otherwise).
        record_cpu, record_wall, runs = [], [], []
        bare_stop: BareStop | None = None
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            FirmwareRecorder(
                str(elf), spec, str(rec_path), None, console=lambda fd, data: None,
                snapshot_every=500_000, max_insns=INSNS,
            ).run()  # fmt: skip
            record_cpu.append(time.process_time() - cpu)
            record_wall.append(time.perf_counter() - start)
            if bare_stop is None:
                try:
                    runs.append(
                        bare_run(elf, spec, open_recording(str(rec_path)).last_known_icount)
                    )
                except BareStop as err:
                    bare_stop = err
        recording = open_recording(str(rec_path))
        insns = recording.last_known_icount
        out["fw_record_insns"] = insns
        out["fw_record_s"] = round(statistics.median(record_wall), 3)
        out["fw_record_cpu_s"] = round(statistics.median(record_cpu), 3)
        timeline = Timeline(recording)
        if bare_stop is not None:
            out["fw_record_ratio"] = f"not measured: bare Unicorn stopped: {bare_stop}"
        else:
            out.update(_bare_figures(insns, timeline, runs, record_cpu))
        # reverse-stepi at 20 places spread over the recording (each from a fresh seek).
        # Wall time is what the targets are about; CPU time (this process's) says how much
        # of it is ttdbg's own on a loaded machine.
        steps, cpu_steps = [], []
        for k in range(1, 21):
            timeline.seek(timeline.end * k // 21)
            start, cpu = time.perf_counter(), time.process_time()
            timeline.reverse_step()
            steps.append((time.perf_counter() - start) * 1000)
            cpu_steps.append((time.process_time() - cpu) * 1000)
        out["fw_rsi_ms_p50"] = round(statistics.median(steps), 2)
        out["fw_rsi_cpu_ms_p50"] = round(statistics.median(cpu_steps), 2)
        # reverse-continue from the end to the last write of the tick counter (a handler's).
        timeline.seek(timeline.end)
        timeline.add_watchpoint("write", *_symbol(elf, "ticks"))
        start, cpu = time.perf_counter(), time.process_time()
        stop = timeline.reverse_continue()
        out["fw_rc_ms"] = round((time.perf_counter() - start) * 1000, 1)
        out["fw_rc_cpu_ms"] = round((time.process_time() - cpu) * 1000, 1)
        out["fw_rc_stop"] = type(stop).__name__
    out.update(qemu_figures(machine, arch, elf, repeats))
    return out


def _bare_figures(
    insns: int, timeline: Timeline, runs: list[BareRun], record_cpu: list[float]
) -> dict[str, Any]:
    """Bare Unicorn's runs of the same firmware for the recording's instruction count, each
    beside a recording, in CPU seconds; the ratio (the median of the pairs') only when every
    run entered the recording's interrupts at the recording's icounts and ended with its
    registers (the same work, not just as many instructions)."""
    recorded = [(e.icount, e.number) for e in timeline.interrupt_entries()]
    timeline.seek(timeline.end)
    end_regs = timeline.registers()
    bare_cpu = statistics.median(r.cpu_s for r in runs)
    out: dict[str, Any] = {
        "fw_bare_unicorn_cpu_s": round(bare_cpu, 3),
        "fw_bare_unicorn_setup_cpu_s": round(statistics.median(r.setup_s for r in runs), 3),
        "fw_bare_unicorn_insns": runs[0].insns,
        "fw_interrupts": len(recorded),
    }

    def difference(run: BareRun) -> str | None:
        if run.insns != insns:
            return f"{run.insns} instructions"
        if run.entries != recorded:
            return f"interrupt entries: {len(run.entries)} against {len(recorded)}"
        if any(end_regs[name] != value for name, value in run.registers.items()):
            return "registers at the end"
        return None

    differ = next((d for d in map(difference, runs) if d is not None), None)
    if differ is not None:
        out["fw_record_ratio"] = f"not measured: bare Unicorn's run differs ({differ})"
    else:
        pairs = [r.cpu_s / cpu for r, cpu in zip(runs, record_cpu, strict=True)]
        out["fw_record_ratio"] = round(statistics.median(pairs), 3)
        out["fw_record_ratios"] = [round(x, 3) for x in pairs]
    return out
