"""Provenance: a program that copies its input through buffers, registers and a global; the
chain of copies ends at the right read() and stdin byte offset, on all three architectures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_native, run_ttdbg
from tests.guest_programs import native_command
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.gdb.monitor import MonitorCommands
from ttdbg.backend.recording import open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.symbols import Symbols

SOURCE = Path(__file__).with_name("copies.c")
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
STDIN = b"abcdefghijklmnopqrstuvwxyz"
DATA = b"0123456789ABCDEFGHIJ"


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def copies(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = require_tool(COMPILERS[request.param])
    tmp = tmp_path_factory.mktemp("copies")
    program, path = tmp / "copies", tmp / "copies.ttrec"
    subprocess.run([cc, "-O1", "-static", "-o", str(program), str(SOURCE)], check=True, timeout=120)
    (tmp / "data.bin").write_bytes(DATA)
    argv = [str(program), str(tmp / "data.bin")]
    out = run_ttdbg(["record", "-o", str(path), "--", *argv], stdin=STDIN)
    assert out.returncode == 0, out.stderr
    native = run_native([*native_command(request.param, program), *argv[1:]], stdin=STDIN)
    assert native.returncode == 0
    assert out.stdout == native.stdout
    assert out.stdout[:8] == STDIN[3:11]
    (tmp / "native.out").write_bytes(native.stdout)
    build_index(str(path), runner=run_here)
    return path


def monitor(path: Path, line: str) -> tuple[bool, str]:
    rec = open_recording(str(path))
    tl = Timeline(rec)
    tl.seek(tl.end)
    return MonitorCommands(tl).run(line, CancelToken())


def test_origin_follows_copies_to_the_read_and_its_offset(copies: Path) -> None:
    rec = open_recording(str(copies))
    second = Symbols(rec.program_image, rec.program.load_bias).by_name["second"].addr
    reads = [
        e for e in rec.events
        if e.kind == EventKind.SYSCALL and e.args[0] == rec.program.arch.syscall_numbers["read"]
    ]  # fmt: skip
    (read,) = [e for e in reads if e.args[1] == 0]
    for offset in range(8):  # second[16 + k] holds input[3 + k]
        ok, text = monitor(copies, f"origin {second + 16 + offset:#x}")
        assert ok, text
        last = text.strip().splitlines()[-1].strip()
        assert last == (
            f"origin: syscall: read(0) at icount {read.icount}: stdin byte offset {3 + offset}"
        )
        hops = text.strip().splitlines()[1:-1]
        assert len(hops) >= 4  # buffer <- register <- global <- register <- ... <- input


def test_file_offsets_follow_seeks(copies: Path) -> None:
    """After lseek the read's bytes come from the sought offset, not from the bytes read so
    far: third[k] holds data.bin's byte 5 + k (read 2 bytes, seek to 5, read 4, read 4)."""
    rec = open_recording(str(copies))
    third = Symbols(rec.program_image, rec.program.load_bias).by_name["third"].addr
    for k in range(8):
        ok, text = monitor(copies, f"origin {third + k:#x}")
        assert ok, text
        last = text.strip().splitlines()[-1]
        assert "data.bin byte offset" in last, last
        assert last.endswith(f"byte offset {5 + k}"), last


def test_file_offsets_are_shared_by_duplicated_descriptors(copies: Path) -> None:
    """fourth[] is read through descriptors made by dup, fcntl(F_DUPFD) and dup2, with an
    lseek through one of them: the offset each byte came from is the one the program read
    natively (every byte of data.bin differs, so a byte names its offset)."""
    rec = open_recording(str(copies))
    fourth = Symbols(rec.program_image, rec.program.load_bias).by_name["fourth"].addr
    native = copies.with_name("native.out").read_bytes()[8:]
    assert len(native) == 5
    for k, byte in enumerate(native):
        ok, text = monitor(copies, f"origin {fourth + k:#x}")
        assert ok, text
        last = text.strip().splitlines()[-1]
        assert "data.bin byte offset" in last, last
        assert last.endswith(f"byte offset {DATA.index(byte)}"), (k, last)


def test_last_names_the_read_that_wrote_a_buffer(copies: Path) -> None:
    """`last` on bytes read() put into memory stops at the read, by index and by replay
    alike, and `monitor last` names the call; bytes an instruction wrote after the read
    still name the instruction."""
    rec = open_recording(str(copies))
    syms = Symbols(rec.program_image, rec.program.load_bias).by_name
    read_nr = rec.program.arch.syscall_numbers["read"]
    (read,) = [
        e for e in rec.events
        if e.kind == EventKind.SYSCALL and e.args[:2] == (read_nr, 0)
    ]  # fmt: skip
    fast, slow = Timeline(rec), Timeline(open_recording(str(copies)))
    slow.index = None
    for addr, length in ((syms["input"].addr + 2, 4), (syms["fourth"].addr, 5)):
        fast.seek(fast.end)
        slow.seek(slow.end)
        now = fast.read_memory(addr, length)
        a, b = fast.last_write(addr, length), slow.last_write(addr, length)
        assert fast.answered_by_index
        assert a == b
        assert isinstance(a, WatchpointHit)
        assert a.syscall == read_nr
        assert a.new == now
    fast.seek(fast.end)
    ok, text = MonitorCommands(fast).run(f"last {syms['input'].addr + 2:#x} 4", CancelToken())
    assert ok, text
    assert text.startswith(f"written at icount {read.icount} by read(0, "), text
    fast.seek(fast.end)
    ok, text = MonitorCommands(fast).run(f"last {syms['second'].addr + 16:#x} 8", CancelToken())
    assert ok, text
    assert " by pc 0x" in text


def test_constants_and_computations_end_the_chain(copies: Path) -> None:
    rec = open_recording(str(copies))
    second = Symbols(rec.program_image, rec.program.load_bias).by_name["second"].addr
    ok, text = monitor(copies, f"origin {second + 40:#x}")
    assert ok
    assert "origin: constant: the immediate 0x6b" in text
    ok, text = monitor(copies, f"origin {second + 41:#x}")
    assert ok
    assert "origin: computation:" in text
    ok, text = monitor(copies, f"origin {second + 60:#x}")
    assert ok
    assert "was never written" in text


def test_origin_without_an_index_says_so(copies: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.ttrec"
    shutil.copyfile(copies, bare)
    ok, text = monitor(bare, "origin 0x1000")
    assert not ok
    assert "needs an index of the recording: run 'ttdbg index" in text


OFFSETS_SOURCE = Path(__file__).with_name("offsets.c")
SCRATCH = b"abcdefghijklmnopqrstuvwxyz"
DATA32 = DATA + b"KLMNOPQRSTUVWXYZ"  # every byte distinct, none a letter of SCRATCH


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def offsets(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, tuple[bytes, bytes]]:
    """offsets.c recorded and indexed, with what it printed natively (qemu-user off x86-64)
    and the scratch file as the native run left it (the ttdbg run's must equal both)."""
    cc = require_tool(COMPILERS[request.param])
    tmp = tmp_path_factory.mktemp("offsets")
    program, path = tmp / "offsets", tmp / "offsets.ttrec"
    subprocess.run(
        [cc, "-O1", "-static", "-o", str(program), str(OFFSETS_SOURCE)], check=True, timeout=120
    )
    runs = {}
    for where in ("native", "ttdbg"):
        (tmp / where).mkdir()
        data, scratch = tmp / where / "data.bin", tmp / where / "scratch.bin"
        data.write_bytes(DATA32)
        scratch.write_bytes(SCRATCH)
        if where == "native":
            out = run_native([*native_command(request.param, program), str(data), str(scratch)])
        else:
            out = run_ttdbg(
                ["record", "-o", str(path), "--", str(program), str(data), str(scratch)]
            )
        assert out.returncode == 0, (where, out.returncode, out.stderr)
        runs[where] = (out.stdout, scratch.read_bytes())
    assert runs["ttdbg"] == runs["native"]
    build_index(str(path), runner=run_here)
    return path, runs["native"]


def test_file_offsets_of_vector_and_copying_calls(
    offsets: tuple[Path, tuple[bytes, bytes]],
) -> None:
    """Every byte offsets.c read (through readv, preadv, preadv2 with and without an offset,
    after sendfile and copy_file_range moved the file offset or left it alone, and from the
    scratch file after sendfile, copy_file_range, pwritev and pwritev2 wrote to it, and
    after writes to an O_APPEND file) is traced to the file and offset it came from natively:
    each byte names its offset, an appended one is found in the file as written natively."""
    path, (native, scratch) = offsets
    rec = open_recording(str(path))
    got = Symbols(rec.program_image, rec.program.load_bias).by_name["got"].addr
    tl = Timeline(rec)
    tl.seek(tl.end)
    commands = MonitorCommands(tl)
    assert len(native) == 28
    for k, byte in enumerate(native):
        ok, text = commands.run(f"origin {got + k:#x}", CancelToken())
        assert ok, text
        last = text.strip().splitlines()[-1]
        if byte in DATA32:
            source, offset = "data.bin", DATA32.index(byte)
        elif byte in SCRATCH:
            source, offset = "scratch.bin", SCRATCH.index(byte)
        else:  # appended by the program: where the native run's appends put it
            assert k >= 23, (k, byte)
            assert scratch.count(byte) == 1, (k, byte)
            source, offset = "scratch.bin", scratch.index(byte)
        assert f"{source} byte offset {offset}" in last, (k, last)
        assert last.endswith(f" {offset}"), (k, last)
