"""Synchronous exceptions on the three firmware machines against qemu-system (the oracle): bus
errors, misaligned atomics, smc/brk/svc/bkpt, execute-never fetches and RISC-V mip enter the
guest's own vector with the registers QEMU gives; a fault with nowhere to go ends the run
with a typed stop that `record` and `replay` print as one line and gdb sees as a signal."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg
from tests.integration.test_firmware_gdb import run_gdb_on
from tests.integration.test_firmware_interrupts import qemu_gdb, registers
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "sample_traces" / "firmware"
DATA = Path(__file__).resolve().parent / "data"

# board: (machine, qemu-system and its machine options, compiler and flags, linker script)
BOARDS = {
    "riscv64": (
        "virt",
        ["qemu-system-riscv64", "-M", "virt", "-bios", "none"],
        ["riscv64-linux-gnu-gcc", "-march=rv64imac_zicsr", "-mabi=lp64", "-mcmodel=medany",
         "-fno-pic", "-nostartfiles", "-static", "-Wl,--build-id=none",
         "-Wl,--no-warn-rwx-segments"],
        FIRMWARE / "riscv-virt" / "link.ld",
    ),
    "aarch64": (
        "virt",
        ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-nic", "none"],
        ["aarch64-linux-gnu-gcc", "-mgeneral-regs-only", "-fno-pic", "-static",
         "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"],
        FIRMWARE / "aarch64-virt" / "link.ld",
    ),
    "cortex-m": (
        "lm3s6965evb",
        ["qemu-system-arm", "-M", "lm3s6965evb"],
        ["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb"],
        FIRMWARE / "cortex-m" / "lm3s.ld",
    ),
}  # fmt: skip
PROBES = {
    "riscv64": ("riscv_virt_traps.S", "riscv_virt_traps.c"),
    "aarch64": ("aarch64_virt_entry_probe.S", "aarch64_virt_traps.c"),
    "cortex-m": ("cortexm_traps.c",),
}


def build(board: str, out: Path, *sources: Path | str, defines: Sequence[str] = ()) -> Path:
    """An ELF for `board` from files or (a string) assembly source, with `defines` (-D...)
    for the preprocessor."""
    _machine, _qemu, (cc, *flags), script = BOARDS[board]
    paths = []
    for i, src in enumerate(sources):
        if isinstance(src, str):
            path = out.with_name(f"{out.stem}{i}.S")
            path.write_text(src)
            src = path
        paths.append(str(src))
    subprocess.run(
        [require_tool(cc), *flags, "-O1", "-ffreestanding", "-nostdlib", *defines, "-T",
         str(script), "-o", str(out), *paths],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def qemu(board: str, elf: Path) -> subprocess.CompletedProcess[bytes]:
    _machine, command, _cc, _script = BOARDS[board]
    return subprocess.run(
        [require_tool(command[0]), *command[1:], "-display", "none", "-monitor", "none",
         "-serial", "stdio", "-icount", "shift=3", "-no-reboot", "-kernel", str(elf)],
        capture_output=True, timeout=60,
    )  # fmt: skip


def record(board: str, elf: Path, rec: Path) -> subprocess.CompletedProcess[bytes]:
    return run_ttdbg(["record", "--machine", BOARDS[board][0], "-o", str(rec), str(elf)])


@pytest.mark.parametrize("board", sorted(PROBES))
def test_exceptions_enter_the_guest_vector_as_on_qemu(board: str, tmp_path: Path) -> None:
    elf = build(board, tmp_path / "traps.elf", *(DATA / name for name in PROBES[board]))
    native = qemu(board, elf)
    assert native.returncode == 0, native.stderr
    rec = record(board, elf, tmp_path / "traps.ttrec")
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.decode().splitlines() == native.stdout.decode().splitlines()
    assert rec.stdout.count(b"\n  ") > 20  # every case printed its registers
    rep = run_ttdbg(["replay", "--verify", str(tmp_path / "traps.ttrec")])
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout


# A load from nowhere with no trap vector set: the access fault enters mtvec (0), where
# the fetch faults again, for ever (QEMU spins there).
VECTORLESS = """
    .globl _start
_start:
    li   t0, 0x90000000
    lw   t1, 0(t0)
1:  j    1b
"""


@pytest.fixture(scope="module")
def vectorless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("vectorless")
    elf = build("riscv64", d / "v.elf", VECTORLESS)
    rec = record("riscv64", elf, d / "v.ttrec")
    assert rec.returncode == 1, rec.stderr
    lines = rec.stderr.decode().splitlines()
    assert len(lines) == 2, lines  # the machine banner, the stop
    assert lines[1].startswith("ttdbg: guest fault at pc 0x0 (icount 3): the exception "
                               "vector 0x0 is not in memory"), lines  # fmt: skip
    return elf, d / "v.ttrec"


@contextmanager
def stub_port(elf: Path, path: Path) -> Iterator[int]:
    """The port of a gdb stub serving the recording at `path`, for as long as the block runs."""
    rec = open_recording(str(path))
    server = GdbServer(lambda: GdbStub(Timeline(rec), str(elf), rec.program_image))
    server.start()
    try:
        yield server.address[1]
    finally:
        server.shutdown()


def gdb_on(elf: Path, path: Path, commands: list[str]) -> list[str]:
    """gdb-multiarch's answers to `commands` on the recording at `path`."""
    with stub_port(elf, path) as port:
        return run_gdb_on(require_tool("gdb-multiarch"), elf, port, commands)


@pytest.fixture
def port(vectorless: tuple[Path, Path]) -> Iterator[int]:
    with stub_port(*vectorless) as port:
        yield port


def test_a_fault_with_nowhere_to_go_is_one_line_in_replay(vectorless: tuple[Path, Path]) -> None:
    rep = run_ttdbg(["replay", "--verify", str(vectorless[1])])
    assert rep.returncode == 1
    stop = [line for line in rep.stderr.decode().splitlines() if "verified" not in line]
    assert stop == ["ttdbg: guest fault at pc 0x0 (icount 3): the exception vector 0x0 is not "
                    "in memory (the fetch fault it raises enters it again, for ever)"]  # fmt: skip


def test_gdb_sees_the_fault_as_a_signal_with_qemus_registers(
    vectorless: tuple[Path, Path], port: int
) -> None:
    elf = vectorless[0]
    gdb = require_tool("gdb-multiarch")
    show = "info registers pc mcause mepc mtval"
    ours = run_gdb_on(gdb, elf, port, ["continue", show])
    assert "Program received signal SIGSEGV" in ours[0], ours
    assert "ttdbg: guest fault at pc 0x0" in ours[0], ours
    with qemu_gdb(BOARDS["riscv64"][1], elf) as qemu_port:
        theirs = run_gdb_on(gdb, elf, qemu_port, ["hbreak *0", "continue", show, "kill"])
    expected = registers(theirs[2])
    assert expected["pc"] == "0x0", theirs
    assert expected["mcause"] == "0x5", theirs  # the load's access fault
    assert registers(ours[1]) == expected


def test_an_access_to_nothing_on_cortex_m_stops_naming_it(tmp_path: Path) -> None:
    """QEMU's lm3s boards read 0 and ignore writes where nothing is mapped (the Cortex-M3
    bus faults): ttdbg stops there instead, gdb seeing a SIGSEGV at the load."""
    source = ".syntax unified\n.thumb\n.section .vectors\n.word 0x20002000\n.word _start + 1\n" \
             ".text\n.thumb_func\n.globl _start\n_start:\n ldr r1, =0x30000000\n ldr r0, [r1]\n" \
             "1: b 1b\n"  # fmt: skip
    elf = build("cortex-m", tmp_path / "nothing.elf", source)
    rec = record("cortex-m", elf, tmp_path / "n.ttrec")
    assert rec.returncode == 1
    said = rec.stderr.decode()
    found = re.search(
        r"guest fault at pc (0x[0-9a-f]+) \(icount 1\): read of 4 bytes at 0x30000000, "
        r"where machine lm3s6965evb has no memory or device",
        said,
    )
    assert found, said
    out = gdb_on(elf, tmp_path / "n.ttrec", ["continue", "print/x $pc"])
    assert "Program received signal SIGSEGV" in out[0], out
    assert f"$1 = {found.group(1)}\n" in out[1], out


def test_psci_cpu_off_of_the_only_cpu_ends_the_run_naming_it(tmp_path: Path) -> None:
    code = ".section .text.start\n.globl _start\n_start:\n movz x0, #0x8400, lsl #16\n" \
           " movk x0, #2\n hvc #0\n1: b 1b\n"  # fmt: skip
    elf = build("aarch64", tmp_path / "off.elf", code)
    rec = record("aarch64", elf, tmp_path / "off.ttrec")
    assert rec.returncode == 1
    assert "PSCI CPU_OFF: the only CPU is off and nothing can turn it on again" in (
        rec.stderr.decode()
    ), rec.stderr
    info = run_ttdbg(["info", str(tmp_path / "off.ttrec")])
    assert re.search(rb"icount: +2\n", info.stdout), info.stdout  # in front of the hvc


def test_psci_cpu_suspend_nothing_can_end_stops_naming_it(tmp_path: Path) -> None:
    # (QEMU waits there for ever: no timer is armed and no input can come.)
    code = ".section .text.start\n.globl _start\n_start:\n movz x0, #0xc400, lsl #16\n" \
           " movk x0, #1\n mov x1, #0\n hvc #0\n1: b 1b\n"  # fmt: skip
    elf = build("aarch64", tmp_path / "suspend.elf", code)
    rec = record("aarch64", elf, tmp_path / "suspend.ttrec")
    assert rec.returncode == 1
    said = rec.stderr.decode()
    assert re.search(
        r"PSCI CPU_SUSPEND at pc 0x4000000c \(icount 3\) waits for an interrupt that cannot "
        r"come: no timer is armed and the serial input is closed",
        said,
    ), said
    assert "Traceback" not in said


# bkpt in Thread mode enters HardFault (DebugMonitor is never enabled); the handler's own bkpt
# cannot escalate any further: a lockup, where QEMU aborts with its register dump.
LOCKUP = """.syntax unified
.thumb
.section .vectors
.word 0x20002000, _start + 1, 0, hardfault + 1
.text
.thumb_func
.globl _start
_start:
    bkpt #1
1:  b 1b
.thumb_func
hardfault:
    bkpt #2
2:  b 2b
"""


def test_a_cortex_m_lockup_stops_where_qemu_aborts(tmp_path: Path) -> None:
    elf = build("cortex-m", tmp_path / "lockup.elf", LOCKUP)
    native = qemu("cortex-m", elf)
    assert native.returncode != 0
    dump = native.stderr.decode()
    assert "Lockup: can't escalate 3 to HardFault" in dump, dump
    theirs = {
        name: int(value, 16) for name, value in re.findall(r"(R1[345]|XPSR)=([0-9a-f]+)", dump)
    }
    rec = record("cortex-m", elf, tmp_path / "lockup.ttrec")
    assert rec.returncode == 1
    assert f"guest fault at pc {theirs['R15']:#x} (icount 1): lockup: DebugMonitor cannot " \
           "escalate to HardFault" in rec.stderr.decode(), rec.stderr  # fmt: skip
    out = gdb_on(elf, tmp_path / "lockup.ttrec", ["continue", "info registers pc sp lr xpsr"])
    assert "Program received signal SIGTRAP" in out[0], out
    ours = {name: int(value, 16) for name, value in registers(out[1]).items()}
    assert ours == {"pc": theirs["R15"], "sp": theirs["R13"], "lr": theirs["R14"],
                    "xpsr": theirs["XPSR"]}  # fmt: skip
