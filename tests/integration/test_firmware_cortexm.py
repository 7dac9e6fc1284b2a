"""The Cortex-M3 sample firmware on `lm3s6965evb`/`lm3s811evb`: qemu-system-arm is the
oracle for its output, replay must equal record byte for byte, and gdb-multiarch debugs it
backwards across interrupt entry and return."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, require_tool, run_ttdbg
from tests.integration import test_firmware_traps as traps
from tests.integration.test_gdb import sections
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

FIRMWARE = SAMPLES / "firmware" / "cortex-m"
ELF = FIRMWARE / "fw.elf"
INPUT = b"hello, firmware\nsuq"  # 's': svc #5, 'u': an undefined instruction


def timing_free(output: bytes) -> list[bytes]:
    """The output lines that do not depend on timing (the tick count does)."""
    return [line for line in output.splitlines() if not line.startswith(b"ticks ")]


def qemu(board: str, data: bytes) -> bytes:
    qemu_arm = require_tool("qemu-system-arm")
    out = subprocess.run(
        [qemu_arm, "-M", board, "-nographic", "-kernel", str(ELF), "-no-reboot"],
        input=data, capture_output=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def record(board: str, data: bytes, rec: Path, every: int = 400) -> bytes:
    """Record with snapshots every `every` instructions, so replay and reverse commands
    restore device state (UART FIFO, NVIC pending/active, SysTick) in the middle of a run."""
    args = ["record", "--machine", board, "--snapshot-every", str(every), "-o", str(rec)]
    out = run_ttdbg([*args, str(ELF)], stdin=data)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_prebuilt_elf_is_built_from_the_source(tmp_path: Path) -> None:
    require_tool("arm-none-eabi-gcc")
    built = tmp_path / "fw.elf"
    subprocess.run(["sh", str(FIRMWARE / "build.sh"), str(built)], check=True, timeout=60)
    assert built.read_bytes() == ELF.read_bytes()


@pytest.mark.parametrize("board", ["lm3s6965evb", "lm3s811evb"])
def test_record_equals_qemu_and_replay_equals_record(board: str, tmp_path: Path) -> None:
    rec = tmp_path / "fw.ttrec"
    recorded = record(board, INPUT, rec)
    assert timing_free(recorded) == timing_free(qemu(board, INPUT))
    assert b"rx 19 0x71 'q'" in recorded
    # svc enters SVCall; the undefined instruction a UsageFault, escalated to HardFault
    # (UsageFault is not enabled), with the fault status QEMU reports.
    assert b"svc: exception 11 imm 5" in recorded
    assert re.search(
        rb"fault: exception 3 hfsr 0x40000000 cfsr 0x00010000 pc 0x0000[0-9a-f]{4}\n", recorded
    )
    assert b"checksum seed 0x1234" in recorded
    replayed = run_ttdbg(["replay", "--verify", str(rec)], stdin=b"")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == recorded
    verified = re.search(rb"verified (\d+) snapshots", replayed.stderr)
    assert verified is not None, replayed.stderr
    assert int(verified.group(1)) >= 5


def test_replay_reads_no_input(tmp_path: Path) -> None:
    rec = tmp_path / "fw.ttrec"
    recorded = record("lm3s6965evb", INPUT, rec)
    closed = subprocess.run(
        [sys.executable, "-m", "ttdbg", "replay", str(rec)], stdin=subprocess.DEVNULL,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout == recorded


def test_fast_piped_input_is_not_lost_or_reordered(tmp_path: Path) -> None:
    # Far more than the UART's 16-byte FIFO and the firmware's 64-byte ring, all at once.
    data = bytes(0x21 + (i * 7) % 90 for i in range(500)).replace(b"q", b"Q") + b"q"
    recorded = record("lm3s6965evb", data, tmp_path / "fw.ttrec")
    got = [int(m, 16) for m in re.findall(rb"^rx \d+ 0x([0-9a-f]{2})", recorded, re.M)]
    assert bytes(got) == data
    assert timing_free(recorded) == timing_free(qemu("lm3s6965evb", data))


# -- gdb-multiarch ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("fw") / "fw.ttrec"
    record("lm3s6965evb", b"abc\nq", rec)
    return rec


@pytest.fixture
def port(recording: Path) -> Iterator[int]:
    rec = open_recording(str(recording))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, str(ELF), rec.program_image))
    server.start()
    yield server.address[1]
    server.shutdown()


def run_gdb(port: int, commands: list[str]) -> list[str]:
    gdb = require_tool("gdb-multiarch")
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"file {ELF}", "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=FIRMWARE)
    return sections(out.stdout + out.stderr)


def test_gdb_sees_the_m_profile_registers(port: int) -> None:
    out = run_gdb(port, ["info registers xpsr msp psp primask basepri faultmask control"])
    for name in ("xpsr", "msp", "psp", "primask", "basepri", "faultmask", "control"):
        assert re.search(rf"^{name}\s+0x", out[0], re.M), out[0]
    assert re.search(r"^msp\s+0x20002000", out[0], re.M)  # from the vector table


def test_watchpoint_reverse_continue_lands_in_the_handler(port: int) -> None:
    out = run_gdb(port, [
        "break reset_board", "continue", "watch last_rx", "reverse-continue", "bt 1",
        "print/x $xpsr & 0x1ff", "reverse-continue",
    ])  # fmt: skip
    assert "Breakpoint 1, reset_board" in out[1]
    # Going backwards gdb reports the later value as old, the earlier one as new.
    assert "Old value = 113 'q'" in out[3]
    assert "New value = 10 '\\n'" in out[3]
    assert "uart0_handler" in out[4]
    assert "$1 = 0x15" in out[5]  # IPSR: exception 21 = IRQ 5 (UART0)
    assert "Old value = 10 '\\n'" in out[6]
    assert "New value = 99 'c'" in out[6]


def test_reverse_stepi_out_of_a_handler_returns_to_the_interrupted_instruction(port: int) -> None:
    frame_regs = ["r0", "r1", "r2", "r3", "r12", "lr"]
    out = run_gdb(port, [
        "break *uart0_handler", "continue", "x/8wx $sp", "print/x $sp", "reverse-stepi",
        *(f"print/x ${r}" for r in frame_regs), "print/x $sp", "print/x $xpsr & 0x1ff",
        "stepi", "print/x $pc", "print/x (unsigned int)&uart0_handler",
    ])  # fmt: skip
    assert "Breakpoint 1, " in out[1]
    assert "uart0_handler" in out[1]
    frame = [int(w, 16) for w in re.findall(r"\t0x([0-9a-f]+)", out[2])]
    assert len(frame) == 8, out[2]

    def value(i: int) -> int:
        return int(out[i].split("= ")[1].split()[0], 16)

    # One instruction back: Thread mode, on the stack from before the frame was pushed, the
    # registers the frame saved as saved (but those the instruction stepped back over sets:
    # the interrupted one depends on when the piped input arrived).
    same = [value(5 + i) == frame[i] for i in range(6)]
    assert sum(same) >= 4, (frame, out[5:11])
    realign = 4 if frame[7] & (1 << 9) else 0
    assert value(11) == value(3) + 32 + realign
    assert value(12) == 0
    # Forward again: the interrupt is entered at the same place.
    assert "uart0_handler" in out[13]
    assert value(14) == value(15)


def test_breakpoint_in_a_handler_hits_at_the_same_icounts_both_ways(port: int) -> None:
    forward = run_gdb(port, ["break systick_handler", "continue", "monitor info replay",
                             "continue", "monitor info replay", "reverse-continue",
                             "monitor info replay"])  # fmt: skip
    # The monitor's replies go to gdb's stderr, after everything else, in order.
    icounts = [int(n) for n in re.findall(r"^icount: (\d+) /", "".join(forward), re.M)]
    assert len(icounts) == 3, forward
    first, second, back = icounts
    assert first < second
    assert back == first


def test_bad_uses_fail_with_one_line(tmp_path: Path) -> None:
    linux = run_ttdbg(["record", "-o", str(tmp_path / "x.ttrec"), "--", str(ELF)])
    assert linux.returncode == 2
    assert linux.stderr.count(b"\n") == 1
    assert b"--machine" in linux.stderr
    wrong = run_ttdbg(["record", "--machine", "virt", "-o", str(tmp_path / "y.ttrec"), str(ELF)])
    assert wrong.returncode == 2
    assert b"lm3s6965evb" in wrong.stderr


def build_probe(tmp_path: Path, source: Path | str, *defines: str) -> Path:
    """An lm3s ELF from a C file or (a string) C source."""
    if isinstance(source, str):
        (tmp_path / "probe.c").write_text(source)
        source = tmp_path / "probe.c"
    return traps.build("cortex-m", tmp_path / "probe.elf", source, defines=defines)


UNMODELLED = """
#include <stdint.h>
extern uint32_t _estack;
void reset_handler(void)
{
    ACCESS;
    for (;;) {
    }
}
__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))&_estack, reset_handler};
"""


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            0x400FE000,
            rb"read of 4 bytes at 0x400fe000 at pc 0x[0-9a-f]+ \(icount \d+\): QEMU's "
            rb"lm3s811evb has system control \(SSYS\) there, which ttdbg does not model",
        ),
        (0xE000ED90, rb"SCS register 0xe000ed90 \(not modelled\) at pc 0x[0-9a-f]+ \(icount"),
    ],
)
def test_unmodelled_hardware_stops_naming_address_and_pc(
    address: int, message: bytes, tmp_path: Path
) -> None:
    elf = build_probe(tmp_path, UNMODELLED, f"-DACCESS=(void)*(volatile uint32_t *){address:#x}")
    out = run_ttdbg(
        ["record", "--machine", "lm3s811evb", "-o", str(tmp_path / "p.ttrec"), str(elf)]
    )
    assert out.returncode == 1
    assert re.search(message, out.stderr), out.stderr


def test_the_sample_recording_replays_and_verifies() -> None:
    out = run_ttdbg(["replay", "--verify", str(FIRMWARE / "fw.ttrec")])
    assert out.returncode == 0, out.stderr
    assert b"rx 7 0x71 'q'\nfw: bye rx=7" in out.stdout


def test_fault_address_and_debug_registers(tmp_path: Path) -> None:
    elf = build_probe(tmp_path, Path(__file__).parent / "data" / "cortexm_debug_regs.c")
    native = traps.qemu("cortex-m", elf)
    assert native.returncode == 0, native.stderr
    rec = traps.record("cortex-m", elf, tmp_path / "p.ttrec")
    assert rec.returncode == 0, rec.stderr
    ours = rec.stdout.decode().splitlines()
    theirs = native.stdout.decode().splitlines()
    # MMFAR, BFAR and CFSR as QEMU's (7 lines) ...
    assert ours[:7] == theirs[:7]
    assert ours[2:4] == ["mmfar written 0x12345678", "bfar written 0x9abcdef0"]
    # ... DEMCR as the architecture defines it: the bits kept as written, the DebugMonitor
    # ones (never set here) and reserved ones reading 0.
    assert ours[7:] == [
        "demcr 0x00000000", "demcr trcena 0x01000000", "demcr kept bits 0x010807f1",
        "demcr cleared 0x00000000",
    ]  # fmt: skip
    rep = run_ttdbg(["replay", "--verify", str(tmp_path / "p.ttrec")])
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout


@pytest.mark.parametrize(("bits", "name"), [(1 << 16, "MON_EN"), (3 << 17, "MON_PEND/MON_STEP")])
def test_starting_the_debug_monitor_stops_naming_the_bit(
    bits: int, name: str, tmp_path: Path
) -> None:
    elf = build_probe(
        tmp_path, UNMODELLED, f"-DACCESS=*(volatile uint32_t *)0xE000EDFC = {bits:#x}"
    )
    out = run_ttdbg(
        ["record", "--machine", "lm3s6965evb", "-o", str(tmp_path / "p.ttrec"), str(elf)]
    )
    assert out.returncode == 1
    said = out.stderr.decode()
    assert re.search(
        rf"DEMCR\.{name} \(the DebugMonitor exception\) \(not modelled\) at pc "
        r"0x[0-9a-f]+ \(icount \d+\)",
        said,
    ), said
