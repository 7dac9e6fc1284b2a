"""gdb-multiarch on firmware recordings: watchpoints on variables interrupt handlers write,
reverse execution across interrupt entry, the machine-mode CSRs, monitor info replay."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg
from tests.integration.test_firmware_riscv import elf_symbol
from tests.integration.test_gdb import sections
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = {"riscv64": ROOT / "sample_traces" / "firmware" / "riscv-virt" / "fw.elf"}


@pytest.fixture(scope="module")
def gdb() -> str:
    return require_tool("gdb-multiarch")


@pytest.fixture(scope="module", params=sorted(FIRMWARE))
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def recording(arch: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with its input closed, run long enough for a few dozen timer ticks."""
    rec = tmp_path_factory.mktemp("fw") / "ticks.ttrec"
    made = run_ttdbg(
        ["record", "--machine", "virt", "--max-insns", "300000", "-o", str(rec),
         str(FIRMWARE[arch])]
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return rec


@pytest.fixture
def port(recording: Path) -> Iterator[int]:
    rec = open_recording(str(recording))
    server = GdbServer(lambda: GdbStub(Timeline(rec), "/ttdbg/fw", rec.program_image))
    server.start()
    yield server.address[1]
    server.shutdown()


def run_gdb(gdb: str, arch: str, port: int, commands: list[str]) -> list[str]:
    return run_gdb_on(gdb, FIRMWARE[arch], port, commands)


def run_gdb_on(gdb: str, elf: Path, port: int, commands: list[str]) -> list[str]:
    """gdb-multiarch on `elf` against the stub at `port`: each command's output."""
    # A reverse command on a loaded machine can take longer than gdb's 2 s default.
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", "set remotetimeout 20", "-ex", f"file {elf}",
            "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    # One stream, so monitor replies (gdb writes them to stderr) stay in command order.
    out = subprocess.run(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )
    return sections(out.stdout)


def register(text: str, name: str) -> int:
    found = re.search(rf"^{name}\s+(0x[0-9a-f]+)", text, re.M)
    assert found, text
    return int(found.group(1), 16)


def icount(text: str) -> int:
    found = re.search(r"^icount: (\d+) /", text, re.M)
    assert found, text
    return int(found.group(1))


def test_reverse_continue_to_the_handler_write_with_old_and_new_values(
    gdb: str, arch: str, port: int
) -> None:
    out = run_gdb(gdb, arch, port, [
        "break on_timer", "continue", "continue", "delete", "watch ticks", "continue",
        "reverse-continue", "bt 2",
    ])  # fmt: skip
    assert "Old value = 1\nNew value = 2" in out[5]
    assert "Old value = 2\nNew value = 1" in out[6]  # gdb shows reverse hits undone
    assert "in on_timer () at fw.c" in out[6]
    assert "#1  trap_handler (cause=" in out[7]


def test_reverse_stepi_out_of_the_handler_returns_to_the_interrupted_instruction(
    gdb: str, arch: str, port: int
) -> None:
    out = run_gdb(gdb, arch, port, [
        "break *trap_entry", "continue", "continue", "info registers pc mepc mcause",
        "reverse-stepi", "info registers pc mepc", "x/i $pc", "stepi", "info registers pc",
    ])  # fmt: skip
    entry = out[3]
    assert register(entry, "mcause") == (1 << 63) | 7  # the machine timer
    back = out[5]
    # One instruction back: the wfi the timer woke, whose next instruction mepc names.
    assert register(back, "mepc") == register(back, "pc") + 4
    assert "wfi" in out[6]
    assert "Breakpoint 1, trap_entry" in out[7]
    assert register(out[8], "pc") == register(entry, "pc")


def test_handler_breakpoints_hit_at_the_same_icounts_both_ways(
    gdb: str, arch: str, port: int
) -> None:
    forward = ["break on_timer"]
    for _ in range(3):
        forward += ["continue", "monitor info replay"]
    backward = []
    for _ in range(2):
        backward += ["reverse-continue", "monitor info replay"]
    out = run_gdb(gdb, arch, port, forward + backward)
    ahead = [icount(out[i]) for i in (2, 4, 6)]
    behind = [icount(out[i]) for i in (8, 10)]
    assert ahead[0] < ahead[1] < ahead[2]
    assert behind == [ahead[1], ahead[0]]
    info = out[6]
    assert "machine: virt" in info
    assert re.search(r"virtual time: 0\.0[0-9]{8} s \(icount shift 3\)", info), info
    assert "pending interrupts: machine timer (mip bit 7)" in info
    assert "last interrupt entered: machine timer (cause 7) at icount" in info


def test_machine_mode_csrs_in_the_target_description(gdb: str, arch: str, port: int) -> None:
    out = run_gdb(gdb, arch, port, [
        "break on_timer", "continue", "info registers mstatus mie mepc mcause mtval mtvec",
    ])  # fmt: skip
    regs = out[2]
    assert register(regs, "mie") == (1 << 7) | (1 << 11)
    assert register(regs, "mcause") == (1 << 63) | 7
    assert register(regs, "mtvec") == elf_symbol(FIRMWARE[arch], "trap_entry")
    assert register(regs, "mstatus") & (1 << 7)  # MPIE: interrupts were on when it came
    assert register(regs, "mtval") == 0
