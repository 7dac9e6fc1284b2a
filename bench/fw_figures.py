"""Firmware: recording a machine's sample against bare Unicorn running the same ELF, and
reverse-stepi / reverse-continue (to the previous interrupt-handler write) on the recording."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import unicorn
from elftools.elf.elffile import ELFFile

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
CHUNK = 10_000  # bare Unicorn runs this many instructions per call (Unicorn's own count)


def _symbol(elf: Path, name: str) -> tuple[int, int]:
    """The address and size of symbol `name`."""
    with open(elf, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return int(sym["st_value"]), int(sym["st_size"])


def bare_unicorn_seconds(elf: Path, spec: Any, executed: list[int] | None = None) -> float:
    """The same ELF in bare Unicorn with the board's memory and devices, run in chunks of
    Unicorn's own instruction count, interrupts entered between chunks: no block counter,
    no snapshots, no event log (timing is chunk-grained, so not exact)."""
    from ttdbg.backend.eventlog import EventLogReader
    from ttdbg.backend.inputs import ReplayInputs
    from ttdbg.backend.loader import parse_program
    from ttdbg.backend.machines.platform import FirmwarePlatform

    program = parse_program(elf.read_bytes(), str(elf))
    plat = FirmwarePlatform(spec, program, ReplayInputs(EventLogReader([])))
    plat.start([], [], b"")
    m = plat.m
    m.counter.remove_hook(m.counter._hook)
    pc_id = m.arch.register(m.arch.pc).uc_id

    def skip_wfi(uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        due = plat.board.deadline()
        if due is not None and due > m.icount:
            plat.clock.idle_ns += (due - m.icount) << plat.clock.shift
        uc.reg_write(pc_id, (addr + size) | m.arch.start_bit)

    for addr in _wfi_sites(elf, m):
        m.uc.hook_add(unicorn.UC_HOOK_CODE, skip_wfi, None, addr, addr)
    if executed is not None:  # an untimed run: what the chunks really executed
        # (a chunk can end early, at an exception or a halt, and still be counted whole)
        executed.append(0)

        def count(_uc: unicorn.Uc, _addr: int, _size: int, _data: object) -> None:
            executed[0] += 1

        m.uc.hook_add(unicorn.UC_HOOK_CODE, count)
    start = time.perf_counter()
    done = 0
    while done < INSNS:
        m.uc.emu_start(m.pc | m.arch.start_bit, 0, count=CHUNK)
        done += CHUNK
        m.icount = done  # the clock the devices read
        due = plat.board.deadline()
        if due is not None and due <= done:
            plat.board.at_deadline()
        plat.board.take_interrupt(m)
    return time.perf_counter() - start


def _wfi_sites(elf: Path, m: Any) -> list[int]:
    import capstone

    cs = capstone.Cs(m.arch.cs_arch, m.arch.cs_mode)
    with open(elf, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        code, base = text.data(), text["sh_addr"]
    return [i.address for i in cs.disasm(code, base) if i.mnemonic == "wfi"]


def fw_figures(machine: str, arch: str, repeats: int) -> dict[str, Any]:
    elf = SAMPLES[(machine, arch)]
    spec = machine_spec(machine, arch, None, None)
    out: dict[str, Any] = {"fw_machine": f"{machine} ({arch})", "fw_insns": INSNS}
    with tempfile.TemporaryDirectory() as tmp:
        rec_path = Path(tmp) / "fw.ttrec"
        record_times = []
        for _ in range(repeats):
            start = time.perf_counter()
            FirmwareRecorder(
                str(elf), spec, str(rec_path), None, console=lambda fd, data: None,
                snapshot_every=500_000, max_insns=INSNS,
            ).run()  # fmt: skip
            record_times.append(time.perf_counter() - start)
        raw = statistics.median(bare_unicorn_seconds(elf, spec) for _ in range(repeats))
        executed: list[int] = []
        bare_unicorn_seconds(elf, spec, executed)
        rec_s = statistics.median(record_times)
        recording = open_recording(str(rec_path))
        out["fw_record_s"] = round(rec_s, 3)
        out["fw_record_insns"] = recording.last_known_icount
        out["fw_bare_unicorn_s"] = round(raw, 3)
        out["fw_bare_unicorn_insns"] = executed[0]
        if executed[0] < recording.last_known_icount:
            # The bare loop stalled (a halt or fault it does not handle): no same-work ratio.
            out["fw_record_ratio"] = (
                f"not measured: bare Unicorn ran {executed[0]} of "
                f"{recording.last_known_icount} instructions"
            )
        else:
            out["fw_record_ratio"] = round(raw / rec_s, 3)
        timeline = Timeline(recording)
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
