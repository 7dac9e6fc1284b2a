"""Firmware on the AArch64 virt machine against qemu-system-aarch64 (the oracle): the sample's
output and interrupt count, what firmware reads at reset (system registers, GICv2, PL011,
PSCI), replay and --verify, gdb-multiarch reverse execution across interrupt entry, and
stops naming what is not modelled."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg
from tests.integration.test_firmware_gdb import icount, register, run_gdb_on
from tests.integration.test_firmware_riscv import assert_replay_equals_record, elf_symbol
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_traces" / "firmware" / "aarch64-virt"
FW = SAMPLE / "fw.elf"
DATA = Path(__file__).resolve().parent / "data"
INPUT = b"hello\nworld\nsum\nquit\n"


def qemu(elf: Path, stdin: bytes, *extra: str) -> subprocess.CompletedProcess[bytes]:
    binary = require_tool("qemu-system-aarch64")
    return subprocess.run(
        # (-nic none: virt's default network card needs iPXE's efi-virtio.rom, which the
        # firmware never uses and Debian's qemu-system-arm only recommends.)
        [binary, "-M", "virt", "-cpu", "cortex-a72", "-nic", "none", "-display", "none",
         "-monitor", "none", "-serial", "stdio", "-icount", "shift=3", *extra,
         "-kernel", str(elf)],
        input=stdin, capture_output=True, timeout=60,
    )  # fmt: skip


def record(rec: Path, stdin: bytes, elf: Path = FW) -> subprocess.CompletedProcess[bytes]:
    return run_ttdbg(["record", "--machine", "virt", "-o", str(rec), str(elf)], stdin)


def timing_free(out: bytes) -> list[bytes]:
    """The lines that do not depend on when input arrived (the final tick count does)."""
    return [line for line in out.splitlines() if not line.startswith(b"ticks:")]


def test_output_and_interrupt_count_match_qemu_and_replay_matches_record(tmp_rec: Path) -> None:
    native = qemu(FW, INPUT)
    assert native.returncode == 0, native.stderr
    rec = record(tmp_rec, INPUT)
    assert rec.returncode == 0, rec.stderr
    assert timing_free(rec.stdout) == timing_free(native.stdout)
    # The boot phase runs with a 100 us timer and no input: its tick count (timer interrupts
    # taken) depends on instruction counts only, and equals QEMU's.
    boot = timing_free(rec.stdout)[0]
    assert boot.startswith(b"boot: work ")
    assert int(boot.rsplit(b" ", 1)[1]) > 20
    assert timing_free(rec.stdout)[1:] == [
        b"fw: ready", b"echo: hello", b"echo: world", b"sum: 2770384384", b"fw: bye"
    ]  # fmt: skip
    assert b"machine virt (aarch64, cpu cortex-a72), icount shift 3" in rec.stderr
    assert_replay_equals_record(tmp_rec, rec.stdout)


def test_input_as_fast_as_a_pipe_delivers_it_is_not_lost(tmp_rec: Path) -> None:
    lines = [b"line %03d %s" % (i, b"y" * (i % 40)) for i in range(150)]
    rec = record(tmp_rec, b"\n".join(lines) + b"\nquit\n")
    assert rec.returncode == 0, rec.stderr
    assert timing_free(rec.stdout)[1:] == [b"fw: ready", *(b"echo: " + x for x in lines),
                                           b"fw: bye"]  # fmt: skip
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.stdout == rec.stdout, rep.stderr


def build(tmp: Path, name: str, *sources: Path | str) -> Path:
    gcc = require_tool("aarch64-linux-gnu-gcc")
    paths = []
    for i, src in enumerate(sources):
        if isinstance(src, str):
            path = tmp / f"{name}{i}.S"
            path.write_text(src)
            src = path
        paths.append(str(src))
    out = tmp / f"{name}.elf"
    subprocess.run(
        [gcc, "-mgeneral-regs-only", "-O1", "-ffreestanding", "-nostdlib", "-static", "-fno-pic",
         "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-T", str(SAMPLE / "link.ld"),
         "-o", str(out), *paths],
        check=True, timeout=60,
    )  # fmt: skip
    return out


START = "aarch64_virt_probe_start.S"
PROBES = {
    # 98 values firmware reads at reset: CurrentEL, DAIF, CPACR, SCTLR, the timer registers,
    # MIDR, ID_AA64PFR0, the GICv2 IDs and reset values (and which bits writes keep), the
    # PL011's, and PSCI's answers to known, unknown and invalid calls.
    "reset": (START, "aarch64_virt_probe.c"),
    # The GIC driven with the CPU's interrupts masked: SGIs, preemption and active
    # priorities, the timer's level PPI, pending set/clear, split EOI, group 1 and AckCtl,
    # priority mask and binary point, each step's HPPIR/RPR/APR/pending/active.
    "gic": (START, "aarch64_virt_gic_probe.c"),
    # Exception entry: an FIQ at EL1h (group 0, FIQEn) and an IRQ at EL1t (SP_EL0 in use):
    # the vector, SPSel, DAIF, SPSR and the stack each handler and main see.
    "entry": ("aarch64_virt_entry_probe.S", "aarch64_virt_entry_probe.c"),
    # PSCI CPU_SUSPEND: invalid power states, suspends the timer ends with IRQs masked, with
    # the interrupt already pending, and with IRQs unmasked (taken after the hvc).
    "suspend": ("aarch64_virt_entry_probe.S", "aarch64_virt_suspend.c"),
}


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_what_firmware_reads_is_what_qemu_gives(tmp_path: Path, probe: str) -> None:
    elf = build(tmp_path, probe, *(DATA / name for name in PROBES[probe]))
    native = qemu(elf, b"")
    assert native.returncode == 0, native.stderr
    rec = record(tmp_path / "probe.ttrec", b"", elf)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.splitlines() == native.stdout.splitlines()
    assert len(native.stdout.splitlines()) > 15
    rep = run_ttdbg(["replay", "--verify", str(tmp_path / "probe.ttrec")])
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout


SUSPEND = (
    '{ register uint64_t x0 __asm__("x0") = 0xC4000001UL; register uint64_t x1 __asm__("x1") = 0;'
    ' __asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1) : "memory"); }'
)


def test_the_sample_idling_in_psci_cpu_suspend_matches_qemu(tmp_path: Path) -> None:
    # The sample with each wfi of its input loop a PSCI CPU_SUSPEND: serial input and timer
    # ticks end the suspends as they end the wfis.
    source = (SAMPLE / "fw.c").read_text()
    assert source.count('__asm__ volatile("wfi");') == 1
    (tmp_path / "fw.c").write_text(source.replace('__asm__ volatile("wfi");', SUSPEND))
    elf = build(tmp_path, "suspend", SAMPLE / "start.S", tmp_path / "fw.c")
    native = qemu(elf, INPUT)
    assert native.returncode == 0, native.stderr
    rec = record(tmp_path / "s.ttrec", INPUT, elf)
    assert rec.returncode == 0, rec.stderr
    assert timing_free(rec.stdout) == timing_free(native.stdout)
    assert timing_free(rec.stdout)[-3:] == [b"echo: world", b"sum: 2770384384", b"fw: bye"]
    assert_replay_equals_record(tmp_path / "s.ttrec", rec.stdout)


UNMODELLED = {
    # virtio-mmio (not modelled) at 0x0a000000
    "device": ("movz x1, #0x0a00, lsl #16\n ldr w0, [x1]", "4 bytes at 0xa000000 at pc"),
    "sysreg": ("mrs x0, pmccntr_el0", "mrs S3_3_C9_C13_0: system register not modelled at pc"),
    "gic": ("movz x1, #0x0800, lsl #16\n ldr w0, [x1, #0xc]",
            "GIC distributor register at 0x800000c (not modelled) at pc"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(UNMODELLED))
def test_what_is_not_modelled_stops_the_recording_by_name(tmp_path: Path, case: str) -> None:
    code, message = UNMODELLED[case]
    elf = build(tmp_path, case, f".section .text.start\n.globl _start\n_start:\n {code}\n1: b 1b\n")
    rec = record(tmp_path / "u.ttrec", b"", elf)
    assert rec.returncode == 1
    err = rec.stderr.decode()
    assert message in err, err
    assert "Traceback" not in err


def test_psci_system_reset_ends_the_recording_as_no_reboot(tmp_path: Path) -> None:
    code = "movz x0, #0x8400, lsl #16\n movk x0, #9\n hvc #0"
    elf = build(tmp_path, "reset", f".section .text.start\n.globl _start\n_start:\n {code}\n")
    native = qemu(elf, b"", "-no-reboot")
    assert native.returncode == 0
    rec = record(tmp_path / "r.ttrec", b"", elf)
    assert rec.returncode == 0, rec.stderr
    info = run_ttdbg(["info", str(tmp_path / "r.ttrec")])
    assert b"icount:      3\n" in info.stdout  # movz, movk, hvc: the hvc retired
    assert b"exited with status 0" in info.stdout


# -- gdb-multiarch -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gdb() -> str:
    return require_tool("gdb-multiarch")


@pytest.fixture(scope="module")
def ticking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with its input closed: the boot phase, a timer interrupt every 12.5K
    instructions."""
    rec = tmp_path_factory.mktemp("fw") / "ticks.ttrec"
    made = run_ttdbg(
        ["record", "--machine", "virt", "--max-insns", "120000", "-o", str(rec), str(FW)]
    )
    assert made.returncode == 0, made.stderr
    return rec


@pytest.fixture
def port(ticking: Path):  # type: ignore[no-untyped-def]
    rec = open_recording(str(ticking))
    server = GdbServer(lambda: GdbStub(Timeline(rec), "/ttdbg/fw", rec.program_image))
    server.start()
    yield server.address[1]
    server.shutdown()


def run_gdb(gdb: str, port: int, commands: list[str]) -> list[str]:
    return run_gdb_on(gdb, FW, port, commands)


def test_watchpoint_and_reverse_continue_land_in_the_timer_handler(gdb: str, port: int) -> None:
    out = run_gdb(gdb, port, [
        "break irq_handler", "continue", "continue", "delete", "watch ticks", "continue",
        "reverse-continue", "bt 1",
    ])  # fmt: skip
    assert "Old value = 1\nNew value = 2" in out[5], out[5]
    assert "Old value = 2\nNew value = 1" in out[6], out[6]
    assert "in on_timer () at ./fw.c" in out[7], out[7]  # inlined into irq_handler


def test_reverse_stepi_out_of_the_irq_vector_returns_to_the_interrupted_instruction(
    gdb: str, port: int
) -> None:
    vector = elf_symbol(FW, "vectors") + 0x280  # IRQ, current EL with SP_EL1
    out = run_gdb(gdb, port, [
        f"break *{vector:#x}", "continue", "continue",
        "info registers pc cpsr elr_el1 spsr_el1 vbar_el1", "reverse-stepi",
        "info registers pc cpsr", "stepi", "info registers pc",
    ])  # fmt: skip
    entry = out[3]
    assert register(entry, "pc") == vector
    assert register(entry, "vbar_el1") == elf_symbol(FW, "vectors")
    assert register(entry, "cpsr") & 0x3CF == 0x3C5  # EL1h, DAIF masked
    back = out[5]
    # One instruction back: the last one before the interrupt; ELR names the next.
    assert register(back, "pc") + 4 == register(entry, "elr_el1")
    assert register(back, "cpsr") & 0x3CF == register(entry, "spsr_el1") & 0x3CF
    assert not register(back, "cpsr") & 0x80  # IRQs were unmasked where it came
    assert register(out[7], "pc") == vector


def test_handler_breakpoints_hit_at_the_same_icounts_both_ways(gdb: str, port: int) -> None:
    forward = ["break irq_handler"]
    for _ in range(3):
        forward += ["continue", "monitor info replay"]
    backward = []
    for _ in range(2):
        backward += ["reverse-continue", "monitor info replay"]
    out = run_gdb(gdb, port, forward + backward)
    ahead = [icount(out[i]) for i in (2, 4, 6)]
    behind = [icount(out[i]) for i in (8, 10)]
    assert ahead[0] < ahead[1] < ahead[2]
    assert behind == [ahead[1], ahead[0]]
    assert "last interrupt entered: IRQ 27 (virtual timer) at icount" in out[6], out[6]


def test_the_sample_recording_replays_and_verifies() -> None:
    rep = run_ttdbg(["replay", "--verify", str(SAMPLE / "fw.ttrec")])
    assert rep.returncode == 0, rep.stderr
    assert timing_free(rep.stdout)[1:] == [b"fw: ready", b"echo: hello", b"sum: 99162322",
                                           b"fw: bye"]  # fmt: skip
