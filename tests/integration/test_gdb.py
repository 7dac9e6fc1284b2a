"""Real gdb, batch mode, over a real socket, against recordings of real -g programs."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, SAMPLES, poll, run_ttdbg
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.timeline import Timeline

WALK = BIN / "walk"


class Served:
    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.timeline = Timeline(rec)
        self.server = GdbServer(lambda: GdbStub(self.timeline, "/ttdbg/walk", rec.program_image))
        self.port = self.server.address[1]
        self.server.start()


@pytest.fixture
def served(walk_rec: Recording) -> Iterator[Served]:
    s = Served(walk_rec)
    yield s
    s.server.shutdown()


def run_gdb(gdb: str, port: int, commands: list[str], elf: Path = WALK, timeout: float = 60) -> str:
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", "set remotetimeout 20", "-ex", f"file {elf}",
            "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def sections(output: str) -> list[str]:
    """The output of each command, in order."""
    parts = re.split(r"^@@@ .*$", output, flags=re.M)
    return parts[1:]


def pc_of(text: str) -> int:
    return int(re.search(r"rip\s+(0x[0-9a-f]+)", text).group(1), 16)  # type: ignore[union-attr]


def test_forward_commands(gdb: str, served: Served) -> None:
    out = sections(run_gdb(gdb, served.port, [
        "break step_value", "continue", "info registers rip", "print x", "print round",
        "next", "print doubled", "step", "finish", "stepi", "x/4xw &history",
        "print counter", "continue", "print round",
    ]))  # fmt: skip
    assert "Breakpoint 1, step_value (x=x@entry=1, round=round@entry=0)" in out[1]
    assert pc_of(out[2]) == served.rec.program.entry + 0x125  # step_value, from the ELF below
    assert "$1 = 1" in out[3]
    assert "$2 = 0" in out[4]
    assert out[5].strip().startswith("10\t")
    assert "$3 = 2" in out[6]
    assert out[7].strip().startswith("11\t")
    assert "in main () at src/walk.c:24" in out[8]
    assert "Value returned is $4 = 3" in out[8]
    assert "0x00000002\t0x00000000" in out[10]
    assert "$5 = 2" in out[11]
    assert "step_value (x=x@entry=3, round=round@entry=1)" in out[12]
    assert "$6 = 1" in out[13]


def test_reverse_commands(gdb: str, served: Served) -> None:
    out = sections(run_gdb(gdb, served.port, [
        "break step_value", "continue", "continue", "continue",
        "reverse-continue", "print round", "reverse-stepi", "reverse-nexti", "next", "next",
        "reverse-next", "reverse-step", "continue", "next", "next", "delete", "reverse-finish",
        "break step_value", "set exec-direction reverse", "continue", "print round", "continue",
        "set exec-direction forward", "continue", "print round",
    ]))  # fmt: skip
    assert "round=round@entry=2" in out[3]
    assert "Breakpoint 1, step_value (x=x@entry=3, round=round@entry=1)" in out[4]
    assert "$1 = 1" in out[5]
    assert "0x00000000004016be in main () at src/walk.c:24" in out[6]  # back onto the call
    assert "24\t" in out[7]
    assert "Breakpoint 1, step_value (x=x@entry=3, round=round@entry=1)" in out[8]
    assert out[9].strip().startswith("10\t")
    assert "step_value (x=x@entry=3, round=round@entry=1)" in out[10]  # reverse-next: line 9
    assert "main () at src/walk.c:24" in out[11]  # reverse-step: out of the callee
    assert "round=round@entry=1" in out[12]
    # reverse-finish: back to the call of step_value in main.
    assert "0x00000000004016be in main () at src/walk.c:24" in out[16]
    assert "step_value (x=x@entry=1, round=round@entry=0)" in out[19]
    assert "$2 = 0" in out[20]
    assert "No more reverse-execution history." in out[21]
    assert "_start" in out[21]
    assert "round=round@entry=0" in out[23]
    assert "$3 = 0" in out[24]


def test_reverse_continue_crosses_snapshot_intervals(gdb: str, served: Served) -> None:
    """From the end, back to the first call of step_value, many 300-instruction intervals."""
    out = sections(run_gdb(gdb, served.port, [
        "continue", "break step_value if round == 0", "reverse-continue", "print round",
        "monitor info replay",
    ]))  # fmt: skip
    assert "No more reverse-execution history." in out[0]
    assert "_exit" in out[0]
    assert "Breakpoint 1, step_value (x=x@entry=1, round=round@entry=0)" in out[2]
    assert "$1 = 0" in out[3]
    found = re.search(r"icount: (\d+) / (\d+)", out[4])
    assert found is not None
    assert served.rec.last_known_icount - int(found.group(1)) > 10 * 300


def test_watchpoints_both_ways(gdb: str, served: Served) -> None:
    out = sections(run_gdb(gdb, served.port, [
        "continue", "watch counter", "reverse-continue", "print counter", "reverse-continue",
        "delete", "rwatch counter", "continue", "delete", "awatch history[5]",
        "reverse-continue", "print round",
    ]))  # fmt: skip
    # From the end back onto the last store to counter, with the old value in memory.
    assert "Old value = 31800" in out[2]
    assert "New value = 30211" in out[2]
    assert "step_value (x=x@entry=775, round=round@entry=39) at src/walk.c:10" in out[2]
    assert "$1 = 30211" in out[3]
    assert "Old value = 30211" in out[4]
    assert "New value = 28399" in out[4]
    assert "round=round@entry=38" in out[4]
    # Forward again: the next read of counter is the load for round 39's update, and the
    # stop comes right after it, on the store.
    assert "Hardware read watchpoint 2: counter" in out[7]
    assert "Value = 30211" in out[7]
    assert "step_value (x=x@entry=775, round=round@entry=39) at src/walk.c:10" in out[7]
    # Back to the last access of history[5]: the store in round 37.
    assert "Hardware access (read/write) watchpoint 3: history[5]" in out[10]
    assert "round=round@entry=37" in out[10]
    assert "$2 = 37" in out[11]


def test_forward_watch_stops_after_the_write(gdb: str, served: Served) -> None:
    out = sections(run_gdb(gdb, served.port, ["watch counter", "continue", "print counter"]))
    assert "Old value = 0" in out[1]
    assert "New value = 2" in out[1]
    # Stopped after the store: already on the next line.
    assert "step_value (x=x@entry=1, round=round@entry=0) at src/walk.c:11" in out[1]
    assert "$1 = 2" in out[2]


def native_values(gdb: str, hit: int) -> dict[str, int]:
    """rip, arguments and a local at the Nth hit of step_value, under gdb natively."""
    cmds = ["break step_value", "run", *(["continue"] * (hit - 1)), "next",
            "info registers rip rdi rsi", "print doubled"]  # fmt: skip
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "unset environment LINES", "-ex", "unset environment COLUMNS"]  # fmt: skip
    for cmd in cmds:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    out = subprocess.run(
        [*args, str(WALK)], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    return register_values(sections(out)[-2:], "doubled")


def register_values(outputs: list[str], variable: str) -> dict[str, int]:
    """Registers from `info registers ...` and one variable from `print ...`, as numbers."""
    regs_text, variable_text = outputs
    regs = {
        m.group(1): int(m.group(2), 16)
        for m in re.finditer(r"^(\w+)\s+(0x[0-9a-f]+)", regs_text, re.M)
    }
    found = re.search(r"= (-?\d+)", variable_text)
    assert found is not None, variable_text
    regs[variable] = int(found.group(1))
    return regs


def test_registers_match_a_native_gdb_session(gdb: str, served: Served) -> None:
    hit = 7
    cmds = ["break step_value", *(["continue"] * hit), "next",
            "info registers rip rdi rsi", "print doubled"]  # fmt: skip
    ours = register_values(sections(run_gdb(gdb, served.port, cmds))[-2:], "doubled")
    assert set(ours) == {"rip", "rdi", "rsi", "doubled"}
    assert ours == native_values(gdb, hit)


def test_monitor_seek_refreshes_gdb_through_the_hooks(gdb: str, served: Served) -> None:
    hooks = Path(__file__).resolve().parents[2] / "ttdbg" / "backend" / "gdb" / "ttdbg.gdb"
    out = sections(run_gdb(gdb, served.port, [
        f"source {hooks}", "info registers rip", "monitor seek 5000", "info registers rip",
        "monitor info replay",
    ]))  # fmt: skip
    assert "icount: 5000" in out[4]
    found = re.search(r"pc: (0x[0-9a-f]+)", out[4])
    assert found is not None
    assert pc_of(out[1]) == served.rec.program.entry
    assert pc_of(out[3]) == int(found.group(1), 16) != served.rec.program.entry


def interrupt_mid_run(gdb: str, served: Served, start: str, direction: str) -> tuple[str, float]:
    """Run `direction` in gdb, press Ctrl-C once the replay is moving; (output, seconds)."""
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", f"file {BIN / 'compute'}",
            "-ex", f"target remote 127.0.0.1:{served.port}", "-ex", start,
            "-ex", "maint flush register-cache",
            # A watchpoint that never fires slows replay enough to interrupt it mid-way.
            "-ex", "watch checksum", "-ex", "echo @@@ go\\n", "-ex", direction,
            "-ex", "echo @@@ after\\n", "-ex", "monitor info replay"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout))
    reader.start()
    try:
        poll(lambda: any("@@@ go" in ln for ln in lines), 30, "gdb to start the run")
        before = served.timeline.position
        poll(lambda: abs(served.timeline.position - before) > 1_000_000, 30, "the replay to move")
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        poll(lambda: any("@@@ after" in ln for ln in lines), 10, "gdb to stop")
        seconds = time.monotonic() - sent
        proc.wait(timeout=30)
    finally:
        proc.kill()
        reader.join(timeout=10)
    return "".join(lines), seconds


def test_ctrl_c_stops_long_runs_both_ways(gdb: str) -> None:
    served = Served(open_recording(str(SAMPLES / "compute.ttrec")))
    try:
        out, seconds = interrupt_mid_run(gdb, served, "stepi", "continue")
        assert "Program received signal SIGINT" in out, out
        assert seconds < 1.0
        out, seconds = interrupt_mid_run(gdb, served, "monitor seek 130000000", "reverse-continue")
        assert "Program received signal SIGINT" in out, out
        assert seconds < 1.0
    finally:
        served.server.shutdown()


def test_disconnect_reconnect_and_second_client(gdb: str, served: Served) -> None:
    first = run_gdb(gdb, served.port, ["monitor seek 777", "disconnect"])
    assert "icount 777" in first or "at icount 777" in first
    again = run_gdb(gdb, served.port, ["monitor info replay"])
    assert "icount: 777" in again
    # While one client is attached, another gets a clear refusal.
    holder = socket.create_connection(("127.0.0.1", served.port))
    try:
        assert ask_raw(holder, b"$?#3f").startswith(b"+$T05")
        refused = run_gdb(gdb, served.port, ["info registers rip"], timeout=30)
        assert "another debugger is already attached" in refused
    finally:
        holder.close()
    attach_when_free(served.port)
    assert "icount: 777" in run_gdb(gdb, served.port, ["monitor info replay"])


def test_server_survives_garbage_and_vanishing_clients(served: Served) -> None:
    for junk in (b"\x00\xff garbage $$$ ##", b"$m0,1#00", b"$" + b"A" * 70000, b"$vCont;c#a8"):
        with socket.create_connection(("127.0.0.1", served.port)) as s:
            s.sendall(junk)
            s.settimeout(2)
            with contextlib.suppress(TimeoutError):
                s.recv(100)
    assert attach_when_free(served.port).startswith(b"+$T05")


def ask_raw(s: socket.socket, packet: bytes) -> bytes:
    """Send a framed packet and read until one whole reply packet has arrived."""
    s.settimeout(10)
    s.sendall(packet)
    data = b""
    while not re.search(rb"\$[^#]*#..", data):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def attach_when_free(port: int, timeout: float = 10) -> bytes:
    """Ask `?` as soon as the previous client's session has ended."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.create_connection(("127.0.0.1", port)) as s:
            reply = ask_raw(s, b"$?#3f")
        if b"already attached" not in reply or time.monotonic() > deadline:
            return reply
        time.sleep(0.02)


def test_ttdbg_gdb_end_to_end(gdb: str, tmp_path: Path) -> None:
    rec = tmp_path / "walk.ttrec"  # ttdbg gdb saves the session next to the recording
    shutil.copy(SAMPLES / "walk.ttrec", rec)
    out = run_ttdbg(
        ["gdb", str(rec), "--", "-nx", "-batch",
         "-ex", "break step_value", "-ex", "continue", "-ex", "reverse-stepi",
         "-ex", "monitor seek 100", "-ex", "info registers rip", "-ex", "monitor info replay"],
        timeout=120,
    )  # fmt: skip
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text
    assert "Breakpoint 1, step_value" in text
    assert "icount: 100 /" in text
    assert str(rec) in text
    # The session was saved at the position gdb left, and the next `ttdbg gdb` starts there.
    again = run_ttdbg(["gdb", str(rec), "--", "-nx", "-batch", "-ex", "monitor info replay"])
    assert "icount: 100 /" in again.stdout.decode() + again.stderr.decode()


def test_gdb_without_a_file_fetches_the_program(gdb: str, served: Served) -> None:
    args = [gdb, "-nx", "-batch", "-ex", "set pagination off",
            "-ex", f"target remote 127.0.0.1:{served.port}",
            "-ex", "echo @@@ a\\n", "-ex", "break step_value", "-ex", "continue",
            "-ex", "echo @@@ b\\n", "-ex", "info symbol $pc"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert "/ttdbg/walk" in text
    parts = sections(text)
    assert "Breakpoint 1, step_value" in parts[0]
    assert "step_value in section .text" in parts[1]


def test_static_pie_symbols_are_relocated(gdb: str, tmp_path: Path) -> None:
    path = tmp_path / "pie.ttrec"
    pie = BIN / "hello-pie"
    Recorder(str(pie), [b"hello-pie"], [], str(path)).run()
    rec = open_recording(str(path))
    timeline = Timeline(rec)
    server = GdbServer(lambda: GdbStub(timeline, "/ttdbg/hello-pie", rec.program_image))
    server.start()
    try:
        out = sections(
            run_gdb(gdb, server.address[1], ["break main", "continue", "reverse-stepi"], pie)
        )
    finally:
        server.shutdown()
    assert "Breakpoint 1, main (argc=1" in out[1]
    assert "0x00005555" in out[2]
    assert "in __libc_start_call_main ()" in out[2]
