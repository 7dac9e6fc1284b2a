"""gdb-multiarch against ttdbg on AArch64 and RISC-V 64, and against qemu-user's own stub."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.gdb_steps import free_port, port_listening
from tests.conftest import BIN, SAMPLES, require_tool
from tests.integration.test_gdb import poll, register_values, sections
from ttdbg.backend.arch import by_name
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline

ARGS = {"aarch64": ("x0", "x1"), "riscv64": ("a0", "a1")}


@pytest.fixture(scope="module")
def gdb() -> str:
    return require_tool("gdb-multiarch")


@pytest.fixture(params=["aarch64", "riscv64"])
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def port(arch: str) -> Iterator[int]:
    rec = open_recording(str(SAMPLES / arch / "walk.ttrec"))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/walk", rec.program_image))
    server.start()
    yield server.address[1]
    server.shutdown()


def run_gdb(gdb: str, arch: str, port: int, commands: list[str]) -> list[str]:
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"file {BIN / arch / 'walk'}",
            "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=SAMPLES)
    return sections(out.stdout + out.stderr)


def test_forward_and_reverse(gdb: str, arch: str, port: int) -> None:
    out = run_gdb(gdb, arch, port, [
        "break step_value", "continue", "stepi", "next", "finish", "continue", "reverse-stepi",
        "reverse-next", "reverse-continue", "print round",
    ])  # fmt: skip
    assert "Breakpoint 1, step_value (x=x@entry=1, round=round@entry=0)" in out[1]
    assert "in main () at src/walk.c:24" in out[4]
    assert "Value returned is $1 = 3" in out[4]
    assert "step_value (x=x@entry=3, round=round@entry=1)" in out[5]
    assert "in main () at src/walk.c:24" in out[6]  # back out of the call, onto it
    assert "Breakpoint 1, step_value (x=x@entry=1, round=round@entry=0)" in out[8]
    assert "$2 = 0" in out[9]


def test_watch_and_reverse_continue_to_the_last_writer(gdb: str, arch: str, port: int) -> None:
    out = run_gdb(gdb, arch, port, [
        "continue", "watch counter", "reverse-continue", "print counter", "delete",
        "monitor seek 0", "maint flush register-cache", "watch counter", "continue",
    ])  # fmt: skip
    assert "No more reverse-execution history." in out[0]
    assert "Old value = 31800" in out[2]
    assert "New value = 30211" in out[2]
    assert "step_value (x=x@entry=775, round=round@entry=39)" in out[2]
    assert "$1 = 30211" in out[3]  # on the store, the old value still in memory
    assert "Old value = 0" in out[8]
    assert "New value = 2" in out[8]


def test_remote_registers_match_the_target_description(gdb: str, arch: str, port: int) -> None:
    [table] = run_gdb(gdb, arch, port, ["maint print remote-registers"])
    rows = {
        m.group(1): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(r"^ (\w+)\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+\s+(\d+)\s+(\d+)$", table, re.M)
    }
    offset = 0
    for number, reg in enumerate(by_name(arch).gdb_registers):
        assert rows[reg.name] == (number, offset), reg.name
        offset += reg.size


def test_registers_at_the_nth_hit_match_qemu(
    gdb: str, arch: str, port: int, tmp_path: Path
) -> None:
    qemu = require_tool(f"qemu-{arch}")
    hit = 5
    regs = " ".join(("pc", *ARGS[arch]))
    commands = ["break step_value", *(["continue"] * hit), "next", f"info registers {regs}",
                "print counter"]  # fmt: skip
    ours = register_values(run_gdb(gdb, arch, port, commands)[-2:], "counter")
    qport = free_port()
    native = subprocess.Popen(
        [qemu, "-g", str(qport), str(BIN / arch / "walk")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin"},
    )
    try:
        poll(lambda: port_listening(qport), 30, "qemu's gdb stub")
        theirs = register_values(run_gdb(gdb, arch, qport, commands)[-2:], "counter")
    finally:
        native.kill()
        native.wait(timeout=30)
    assert set(ours) == {"pc", *ARGS[arch], "counter"}
    assert ours == theirs


# Steps and runs over the store to counter, both ways. qemu-user's stub has no watchpoints;
# gdb's software watchpoints (it single-steps and compares the value itself) are the oracle
# for where the stub's hardware ones must stop, on these architectures whose watchpoints
# trigger before the access (gdb steps over the access itself, forwards and backwards).
TO_THE_STORE = {"aarch64": 6, "riscv64": 9}  # stepi from step_value's entry over its store


def watch_steps(arch: str) -> list[str]:
    return [
        "break step_value if round == 38", "continue", "delete", "watch counter",
        *["stepi"] * TO_THE_STORE[arch], "info registers pc", "reverse-stepi", "reverse-stepi",
        "info registers pc", "next", "reverse-next", "continue", "info registers pc",
        "reverse-continue", "reverse-continue", "info registers pc",
    ]  # fmt: skip


def test_watch_steps_stop_where_software_watchpoints_do(gdb: str, arch: str) -> None:
    rec = open_recording(str(SAMPLES / arch / "walk.ttrec"))
    commands = watch_steps(arch)
    outputs = []
    for hardware in (0, 1):
        timeline = Timeline(rec)
        server = GdbServer(lambda tl=timeline: GdbStub(tl, "/ttdbg/walk", rec.program_image))
        server.start()
        try:
            setting = f"set can-use-hw-watchpoints {hardware}"
            out = run_gdb(gdb, arch, server.address[1], [setting, *commands])
        finally:
            server.shutdown()
        outputs.append([s.replace("Hardware watchpoint", "Watchpoint").strip() for s in out[1:]])
    software, hardware_out = outputs
    assert sum("Old value" in s for s in software) == 7, software
    for cmd, want, got in zip(commands, software, hardware_out, strict=True):
        assert got == want, f"after `{cmd}`:\n--- software\n{want}\n--- hardware\n{got}"
