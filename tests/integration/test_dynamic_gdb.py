"""gdb on dynamic recordings: shared libraries listed and debugged from the files the
recording holds (served over vFile), with the program's own library deleted from the host."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing, require_tool
from tests.integration.dynprogs import (
    record_with_vanished_library,
)
from tests.integration.test_gdb_poison import _serving as serving


def ttdbg_gdb(
    rec: Path,
    commands: list[str],
    timeout: float = 240,
    svr4_packet: bool = True,
) -> list[str]:
    """Run `ttdbg gdb` in batch mode from the recording's start; the output of each command,
    in order. Without `svr4_packet` gdb reads the loader's r_debug itself instead of asking
    for qXfer:libraries-svr4."""
    args = [sys.executable, "-m", "ttdbg", "gdb", "--no-session", str(rec), "--", "-nx", "-batch",
            "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"set remote library-info-svr4-packet {'auto' if svr4_packet else 'off'}",
            "-ex", "set sysroot target:"]  # fmt: skip
    for cmd in commands:
        args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd="/")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert "target library list" not in out, out  # gdb took the stub's document as it is
    return split_outputs(out)


def split_outputs(text: str) -> list[str]:
    """gdb's output cut at the `@@@ command` markers: the output of each command, in order."""
    return re.split(r"^@@@ .*$", text, flags=re.M)


# The same session natively (`run`) and on the recording (`continue` from the loader's entry):
# into libc's malloc from the program's first printf, bt, finish.
MALLOC_SESSION = ["break main", "continue", "break malloc", "continue", "bt", "finish", "frame",
                  "info sharedlibrary"]  # fmt: skip


def native_gdb(prog: Path, commands: list[str]) -> list[str]:
    """gdb on the native program, `continue` of the first command to start it as `run`."""
    args = [require_tool("gdb"), "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "set confirm off", str(prog)]  # fmt: skip
    started = False
    for cmd in commands:
        if cmd == "continue" and not started:
            cmd = "run"
        started = started or cmd in ("run", "starti")
        args[-1:-1] = ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=prog.parent)
    return split_outputs(proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def library_rec(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """A recording of a program using a library from a directory deleted afterwards, and
    MALLOC_SESSION's output in gdb on the native program before that."""
    require_tool("gdb")
    native: list[list[str]] = []
    rec, lib = record_with_vanished_library(
        tmp_path_factory.mktemp("dyngdb"),
        before_delete=lambda prog: native.append(
            native_gdb(prog, ["starti", "info symbol $pc", *MALLOC_SESSION])
        ),
    )
    return rec, lib, native[0]


def _libraries(info: str) -> dict[str, list[str]]:
    """`info sharedlibrary` as {name: [from, to]}."""
    return {line.split()[-1]: line.split()[:2] for line in info.splitlines() if "0x" in line}


def test_shared_libraries_listed_and_broken_into(library_rec: tuple[Path, str, list[str]]) -> None:
    rec, lib, _native = library_rec
    commands = ["break lib_add", "continue", "bt", "info sharedlibrary", "print &lib_add",
                "finish", "show remote library-info-svr4-packet"]  # fmt: skip
    start, brk, cont, bt, info, addr, fin, packet = ttdbg_gdb(rec, commands)
    assert re.search(r"qXfer:libraries-svr4:read' packet is .*currently enabled", packet), packet
    assert f"Reading {lib} from remote target" in start + brk + cont
    assert "Breakpoint 1, lib_add (v=1)" in cont
    assert re.search(r"#0 +lib_add \(v=1\) at .*mine?\.c", bt) or "#0  lib_add (v=1)" in bt, bt
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c", bt), bt
    rows = _libraries(info)
    assert f"target:{lib}" in rows, info
    assert any(name.endswith("libc.so.6") for name in rows), info
    low, high = (int(x, 16) for x in rows[f"target:{lib}"])
    where = int(re.search(r"0x[0-9a-f]+", addr).group(0), 16)  # type: ignore[union-attr]
    assert low <= where < high
    assert re.search(r"Value returned is \$\d+ = 1", fin), fin
    assert re.search(r"main \(\) at .*uses\.c", fin)
    # The oracle: gdb walking the loader's link_map in memory itself finds the same list.
    own = ttdbg_gdb(rec, commands, svr4_packet=False)
    assert "currently disabled" in own[-1]
    assert _libraries(own[4]) == rows


def test_libc_breakpoint_backtrace_and_reverse(library_rec: tuple[Path, str, list[str]]) -> None:
    rec, _lib, _native = library_rec
    out = ttdbg_gdb(rec, [
        "break puts", "continue", "bt", "reverse-finish", "watch watched",
        "reverse-continue", "reverse-continue", "continue",
    ])  # fmt: skip
    _start, _brk, cont, bt, rfin, _watch, rc1, rc2, fwd = out
    assert re.search(r"Breakpoint 1, .*puts .*\"done\"", cont), cont
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c:12", bt), bt
    assert re.search(r"main \(\) at .*uses\.c:12", rfin), rfin  # back at the call of puts
    # The last writes of `watched` (totals 6 then 10), found backwards across libc's printf;
    # gdb shows values in the direction it moves.
    assert re.search(r"Old value = 10\s+New value = 6\n", rc1), rc1
    assert re.search(r"Old value = 6\s+New value = 3\n", rc2), rc2
    assert re.search(r"Old value = 3\s+New value = 6\n", fwd), fwd


def qemu_gdb(arch: str, prog: Path, commands: list[str]) -> list[str]:
    """gdb-multiarch on the program run by qemu-user's gdb stub (libraries from the cross
    sysroot and the program's library directory): the output of each command."""
    sysroot = f"/usr/{arch}-linux-gnu"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    qemu = subprocess.Popen(
        [require_tool(f"qemu-{arch}"), "-g", str(port), "-L", sysroot, str(prog)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        args = [require_tool("gdb-multiarch"), "-nx", "-batch", "-ex", "set pagination off",
                "-ex", "set confirm off", "-ex", f"set sysroot {sysroot}",
                "-ex", f"set solib-search-path {prog.parent / 'libdir'}",
                "-ex", "set tcp connect-timeout 30", "-ex", f"file {prog}",
                "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
        for cmd in commands:
            args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
        proc = subprocess.run([*args, "-ex", "kill"], capture_output=True, text=True, timeout=120)
    finally:
        qemu.kill()
        qemu.wait(timeout=30)
    return split_outputs(proc.stdout + proc.stderr)


def frames(text: str) -> list[str]:
    """The frame lines of a bt or frame output as `function at FILE:LINE` or `function from
    LIBRARY`: without addresses and argument values, which differ between two address
    layouts, and with a library's file name only (read through the stub, gdb names it
    `target:PATH`)."""
    found = []
    for line in text.splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*\)(?: (at|from) (\S+))?$", line)
        if m:
            function, how, where = m.groups()
            if how == "from":  # a library without line info: its name, wherever gdb read it
                where = os.path.basename(where)
            found.append(" ".join(g for g in (function, how, where) if g))
    return found


def test_malloc_bt_finish_like_gdb_on_the_native_program(
    library_rec: tuple[Path, str, list[str]],
) -> None:
    """The first instruction is the loader's entry, `break malloc` stops in libc, and bt,
    finish and the libraries listed are what gdb shows on the native program (libraries
    read from the recording; the program's own library is gone); reverse-finish goes back
    to the call in the caller bt showed."""
    rec, _lib, native_out = library_rec
    native_start = native_out[2]  # after starti
    native = [native_out[0], *native_out[3:]]  # MALLOC_SESSION's outputs, at ttdbg_gdb's places
    out = ttdbg_gdb(rec, ["info symbol $pc", *MALLOC_SESSION, "delete", "reverse-finish", "frame"])
    start = out.pop(1)
    _s, _b, _c, brk, cont, bt, fin, frame, info, _d, _rfin, rframe = out
    # Both begin at the dynamic loader's entry: `_start in section .text of .../ld-linux...`.
    assert "ld-linux" in native_start, native_start
    assert start.replace("target:", "") == native_start, start
    assert "malloc" in brk, brk
    assert re.search(r"Breakpoint 2(\.\d+)?, .*malloc", cont), cont
    expected = frames(native[5])
    assert re.fullmatch(r"main at \S*/uses\.c:7", expected[-1]), expected  # lib_hello("main")
    assert any(f.startswith("lib_hello ") for f in expected)
    assert frames(bt) == expected
    assert "Value returned is" in native[6]
    assert "Value returned is" in fin, fin
    assert frames(frame) == frames(native[7]) == [expected[1]]
    ours = [r.split()[-1] for r in info.splitlines() if "0x" in r]
    assert all(name.startswith("target:") for name in ours), info  # read from the recording
    assert [name.removeprefix("target:") for name in ours] == [
        r.split()[-1] for r in native[8].splitlines() if "0x" in r
    ]
    # Back to where frame #2 called frame #1 (the function finish returned to).
    assert frames(rframe)[0].split()[0] == expected[2].split()[0], rframe


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_gdb_multiarch_debugs_libraries(arch: str, tmp_path: Path) -> None:
    """The same scenarios with gdb-multiarch on a foreign program whose own library is gone:
    libraries listed, a break in libc, bt into the program, finish, reverse-finish, and a
    watched global found backwards across printf."""
    require_tool("gdb-multiarch")
    if not Path(f"/usr/{arch}-linux-gnu/lib").is_dir():
        missing(f"the {arch} C library is not installed")
    forward = ["break lib_add", "continue", "finish", "info sharedlibrary", "delete",
               "break puts", "continue", "bt"]  # fmt: skip
    native: list[list[str]] = []
    rec, lib = record_with_vanished_library(
        tmp_path, arch=arch, before_delete=lambda prog: native.append(qemu_gdb(arch, prog, forward))
    )
    out = ttdbg_gdb(rec, [*forward, "reverse-finish", "watch watched", "reverse-continue"])
    _s, _b, _c, fin, info, _d, _bp, cont, bt, rfin, _w, rc = out
    # The oracle: gdb-multiarch on the program under qemu-user's gdb stub.
    _qs, _qb, _qc, qfin, qinfo, _qd, _qbp, _qcont, qbt = native[0][:9]
    assert re.search(r"Value returned is \$\d+ = 1", qfin), qfin
    assert re.search(r"Value returned is \$\d+ = 1", fin), fin
    assert frames(qbt)[0].startswith("puts "), qbt
    assert frames(bt) == frames(qbt), (bt, qbt)
    assert [os.path.basename(name) for name in _libraries(info)] == [
        os.path.basename(name) for name in _libraries(qinfo)
    ], (info, qinfo)
    rows = _libraries(info)
    assert f"target:{lib}" in rows, info
    assert any(re.search(r"target:/lib/.*libc\.so\.6", name) for name in rows), info
    assert re.search(r"Breakpoint 2, .*puts", cont), cont
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c:12", bt), bt
    assert re.search(r"main \(\) at .*uses\.c:12", rfin), rfin
    assert re.search(r"Old value = 10\s+New value = 6\n", rc), rc


# Runs in a fresh interpreter: replay --verify, `ttdbg gdb` (the stub's side) and the TUI's
# view of the library code, with an audit hook noting every file the process opens.
NO_HOST_FILES = r"""
import json, os, sys
opened = set()
def note(event, args):
    if event in ("open", "ctypes.dlopen") and isinstance(args[0], (str, bytes)):
        opened.add(os.path.realpath(os.fsdecode(args[0])))
sys.addaudithook(note)
from ttdbg.cli import main
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.symbols import Symbols
from ttdbg.tui.view import ViewBuilder
rec = sys.argv[1]
status = [main(["replay", "--verify", rec]),
          main(["gdb", "--no-session", rec, "--", "-nx", "-batch", "-ex", "break puts",
                "-ex", "continue", "-ex", "bt", "-ex", "info sharedlibrary"])]
recording = open_recording(rec)
tl = Timeline(recording)
builder = ViewBuilder(tl, Symbols(recording.program_image, recording.program.load_bias))
tl.seek(tl.end)
labels = [line.label for line in builder.build(None).disasm]
print(json.dumps({"status": status, "opened": sorted(opened), "labels": labels,
                  "stored": list(recording.files.paths)}))
"""


def test_replay_gdb_and_view_open_no_host_file_the_recording_holds(
    library_rec: tuple[Path, str, list[str]],
) -> None:
    """Not the loader, not libc (still on this host), not /etc/ld.so.cache: every file the
    guest mapped or read comes from the recording, never from the host's copy."""
    rec, lib, _native = library_rec
    proc = subprocess.run(
        [sys.executable, "-c", NO_HOST_FILES, str(rec)], capture_output=True, text=True,
        timeout=300, cwd="/",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["status"] == [0, 0], proc.stdout + proc.stderr
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c:12", proc.stdout), proc.stdout
    # The last instruction is libc's exit_group call, labelled from the stored libc.
    assert any(label.lower().startswith("_exit") for label in report["labels"]), report["labels"]
    opened = set(report["opened"])
    assert os.path.realpath(rec) in opened  # the hook sees the files the process opens
    stored = {os.path.realpath(p) for p in report["stored"]} | set(report["stored"])
    assert any(p.endswith("/libc.so.6") for p in stored)
    assert lib in stored
    assert "/etc/ld.so.cache" in stored
    assert not opened & stored, sorted(opened & stored)


def test_serve_debugs_the_program_and_its_vanished_library(
    library_rec: tuple[Path, str, list[str]],
) -> None:
    """`ttdbg serve` and a plain `gdb -ex 'target remote'`: gdb reads the program, the loader
    and the libraries from the stub, and stops in libc and back in the program."""
    rec, lib, _native = library_rec
    commands = ["break puts", "continue", "bt", "info sharedlibrary", "reverse-finish"]
    with serving(rec) as (port, _hint):
        args = [require_tool("gdb"), "-nx", "-batch", "-ex", "set pagination off",
                "-ex", f"target remote 127.0.0.1:{port}"]  # fmt: skip
        for cmd in commands:
            args += ["-ex", f"echo @@@ {cmd}\\n", "-ex", cmd]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=240, cwd="/")
    _start, _brk, cont, bt, info, rfin = split_outputs(proc.stdout + proc.stderr)
    assert f"Reading {lib} from remote target" in proc.stdout + proc.stderr
    assert re.search(r"Breakpoint 1, .*puts .*\"done\"", cont), cont
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at .*uses\.c:12", bt), bt
    assert f"target:{lib}" in _libraries(info), info
    assert re.search(r"main \(\) at .*uses\.c:12", rfin), rfin
