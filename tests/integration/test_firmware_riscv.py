"""Firmware on the RISC-V virt machine: ttdbg record against qemu-system-riscv64 (the oracle)
with the same serial input, replay byte for byte, --verify, and unmodelled devices."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg
from ttdbg.backend.machines import machine_spec
from ttdbg.backend.machines.recorder import FirmwareRecorder
from ttdbg.backend.runoutcome import Why
from ttdbg.errors import GuestFault

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "sample_traces" / "firmware" / "riscv-virt" / "fw.elf"
INPUT = b"hello\necall\nebreak\nillegal\nworld\nquit\n"  # three lines that trap


def timing_free(out: bytes) -> list[bytes]:
    """The output lines that do not depend on timing (the tick count does)."""
    return [line for line in out.splitlines() if not line.startswith(b"ticks:")]


def record(rec: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return run_ttdbg(["record", "--machine", "virt", "-o", str(rec), str(FW)], stdin)


def test_record_matches_qemu_and_replay_matches_record(tmp_rec: Path) -> None:
    qemu = require_tool("qemu-system-riscv64")
    native = subprocess.run(
        [qemu, "-M", "virt", "-bios", "none", "-display", "none", "-monitor", "none",
         "-serial", "stdio", "-kernel", str(FW)],
        input=INPUT, capture_output=True, timeout=60,
    )  # fmt: skip
    assert native.returncode == 0, native.stderr
    rec = record(tmp_rec, INPUT)
    assert rec.returncode == 0, rec.stderr
    assert timing_free(rec.stdout) == timing_free(native.stdout)
    # ecall, ebreak and an illegal instruction enter the trap handler with QEMU's mcause,
    # mepc and mtval; the handler goes on after them.
    traps = [line for line in timing_free(rec.stdout) if line.startswith(b"trap: ")]
    assert [line.split(b" mepc ")[0] for line in traps] == [
        b"trap: mcause 11",
        b"trap: mcause 3",
        b"trap: mcause 2",
    ]
    assert traps[2].endswith(b"mtval 0x000000007c002573")
    echoes = [line for line in timing_free(rec.stdout) if not line.startswith(b"trap: ")]
    assert echoes == [
        b"fw: ready", b"echo: hello", b"echo: ecall", b"echo: ebreak", b"echo: illegal",
        b"echo: world", b"fw: bye",
    ]  # fmt: skip
    assert b"icount shift 3 (8 ns per instruction)" in rec.stderr
    info = run_ttdbg(["info", str(tmp_rec)])
    assert b"machine:     virt (cpu rv64), icount shift 3" in info.stdout
    assert b"exited with status 0" in info.stdout
    assert_replay_equals_record(tmp_rec, rec.stdout)


def assert_replay_equals_record(rec_path: Path, recorded: bytes) -> None:
    """Replay reads no input: with other input, or with stdin closed, the output is the
    recorded one, and --verify passes."""
    rep = run_ttdbg(["replay", "--verify", str(rec_path)], b"other\nquit\n")
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == recorded
    assert b"verified" in rep.stderr
    closed = subprocess.run(
        [*run_args(), "replay", str(rec_path)], stdin=subprocess.DEVNULL, capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert closed.stdout == recorded


def run_args() -> list[str]:
    import sys

    return [sys.executable, "-m", "ttdbg"]


def test_input_as_fast_as_a_pipe_delivers_it_is_not_lost(tmp_rec: Path) -> None:
    lines = [b"line %03d %s" % (i, b"x" * (i % 50)) for i in range(200)]
    rec = record(tmp_rec, b"\n".join(lines) + b"\nquit\n")
    assert rec.returncode == 0, rec.stderr
    assert timing_free(rec.stdout) == [b"fw: ready", *(b"echo: " + x for x in lines), b"fw: bye"]
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.stdout == rec.stdout, rep.stderr


def test_input_arriving_while_the_firmware_waits_replays_exactly(tmp_rec: Path) -> None:
    """Input sent once the firmware sleeps in wfi: whether the wait skipped to a timer
    deadline first or the input woke it, replay takes the same path."""
    proc = subprocess.Popen(
        [*run_args(), "record", "--machine", "virt", "-o", str(tmp_rec), str(FW)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert proc.stdout.readline() == b"fw: ready\n"  # the firmware is waiting in wfi now
    out, err = proc.communicate(b"late\nquit\n", timeout=60)
    assert proc.returncode == 0, err
    rep = run_ttdbg(["replay", "--verify", str(tmp_rec)])
    assert rep.stdout == b"fw: ready\n" + out, rep.stderr


def elf_symbol(path: Path, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return int(symtab.get_symbol_by_name(name)[0]["st_value"])


def test_wfi_skips_virtual_time_to_each_timer_deadline(tmp_rec: Path) -> None:
    """Input closed, a 10 ms timer armed: every wfi skips to the next deadline, so 2M
    instructions hold far more ticks than 2M x 8 ns of running would (2)."""
    from ttdbg.backend.recording import open_recording
    from ttdbg.backend.timeline import Timeline

    rec = run_ttdbg(
        ["record", "--machine", "virt", "--max-insns", "2000000", "-o", str(tmp_rec), str(FW)]
    )
    assert rec.returncode == 0, rec.stderr
    assert run_ttdbg(["replay", "--verify", str(tmp_rec)]).returncode == 0
    timeline = Timeline(open_recording(str(tmp_rec)))
    timeline.seek(timeline.end)
    ticks = int.from_bytes(timeline.read_memory(elf_symbol(FW, "ticks"), 8), "little")
    assert ticks > 1000
    platform = timeline.proc.platform
    assert platform.describe()["virtual_ns"] >= ticks * 10_000_000  # type: ignore[attr-defined]


UNMODELLED = """
    .globl _start
_start:
    li t0, 0x10001000
    lw t1, 0(t0)
1:  j 1b
"""


@pytest.fixture(scope="module")
def unmodelled_elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = require_tool("riscv64-linux-gnu-gcc")
    d = tmp_path_factory.mktemp("unmodelled")
    (d / "u.S").write_text(UNMODELLED)
    subprocess.run(
        [gcc, "-nostdlib", "-static", "-Wl,-Ttext-segment=0x80000000", "-o", str(d / "u.elf"),
         str(d / "u.S")],
        check=True, timeout=60,
    )  # fmt: skip
    return d / "u.elf"


def test_unmodelled_device_stops_the_recording_naming_address_and_pc(
    unmodelled_elf: Path, tmp_rec: Path
) -> None:
    rec = run_ttdbg(["record", "--machine", "virt", "-o", str(tmp_rec), str(unmodelled_elf)])
    assert rec.returncode == 1
    message = rec.stderr.decode()
    load = elf_symbol(unmodelled_elf, "_start") + 4  # lui, then the load
    assert f"4 bytes at 0x10001000 at pc {load:#x}" in message, message
    assert "Traceback" not in message


def test_a_fault_with_nowhere_to_go_is_a_guest_fault_outcome(tmp_path: Path) -> None:
    """The run loop says the guest faulted, and where, instead of a generic failure: with no
    trap vector set, a load from nowhere enters mtvec (0), whose fetch faults again."""
    gcc = require_tool("riscv64-linux-gnu-gcc")
    (tmp_path / "v.S").write_text(".globl _start\n_start:\n li t0, 0x90000000\n lw t1, 0(t0)\n")
    subprocess.run(
        [gcc, "-nostdlib", "-static", "-Wl,-Ttext-segment=0x80000000", "-o",
         str(tmp_path / "v.elf"), str(tmp_path / "v.S")],
        check=True, timeout=60,
    )  # fmt: skip
    spec = machine_spec("virt", "riscv64", None, None)
    recorder = FirmwareRecorder(str(tmp_path / "v.elf"), spec, str(tmp_path / "v.ttrec"), None)
    recorder.platform.start([], [], b"")
    ran = recorder.process.run(10_000)
    assert ran.why == Why.GUEST_FAULT
    assert ran.failed
    assert isinstance(ran.error, GuestFault)
    assert ran.error.pc == 0  # in front of the vector: the load's fault was entered
    assert ran.icount == 3  # li (two instructions), the load's trap
    assert recorder.process.machine.reg("mcause") == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--machine", "nosuch"], "no machine 'nosuch' for riscv64 firmware"),
        (["--machine", "virt", "--cpu", "cortex-a53"], "machine virt has no cpu 'cortex-a53'"),
        (["--machine", "virt", "--icount-shift", "11"], "--icount-shift must be 0..10"),
        (["--icount-shift", "2"], "--cpu and --icount-shift go with --machine"),
    ],
)
def test_bad_machine_options_are_one_line_usage_errors(
    args: list[str], message: str, tmp_rec: Path
) -> None:
    rec = run_ttdbg(["record", *args, "-o", str(tmp_rec), str(FW)])
    assert rec.returncode == 2
    assert message in rec.stderr.decode()
    assert "Traceback" not in rec.stderr.decode()
