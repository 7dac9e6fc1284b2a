"""Recordings written by an attacker: names, sizes and contents chosen to escape or exhaust."""

from __future__ import annotations

import json
import os
import re
import resource
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lz4.frame
import pytest

from tests.conftest import BIN, SAMPLES, require_tool, run_ttdbg
from tests.integration.test_bad_input import assert_one_line_error
from tests.recedit import (
    SnapshotEdit,
    alter_first_event,
    cut_after_snapshot,
    edit_header,
    edit_snapshots,
    rewrite,
)
from ttdbg.backend.eventlog import Event, EventKind, encode_events
from ttdbg.backend.loader import map_program, parse_program
from ttdbg.backend.machine import Machine
from ttdbg.backend.pagescan import page_pointers
from ttdbg.backend.recfile import LAZY_HEAD, Frame, FrameType, encode_events_frame, read_frames
from ttdbg.backend.recording import EVENTS_HEAD, SNAPSHOT_HEAD, open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.errors import RecordingError


def test_gdb_writes_the_program_under_a_fixed_name_whatever_the_header_says(
    tmp_path: Path,
) -> None:
    require_tool("gdb")
    tmpdir = tmp_path / "a" / "b"
    tmpdir.mkdir(parents=True)

    def hostile(header: dict[str, Any]) -> None:
        header["program"] = "../../x"

    rec = edit_header(SAMPLES / "walk.ttrec", tmp_path / "evil.ttrec", hostile)
    proc = run_ttdbg(
        ["gdb", str(rec), "--", "-nx", "-batch", "-ex", "info files"],
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    text = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, text
    # TMPDIR/ttdbg-XXXX/../../x is tmp_path/a/x: nothing may appear there or anywhere near.
    assert not (tmp_path / "a" / "x").exists()
    written = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= {"evil.ttrec", "evil.ttrec.ttsession"}, written
    # gdb read the program's symbols from the copy under its fixed name.
    assert re.search(rf"{re.escape(str(tmpdir))}/ttdbg-\w+/program\b", text), text


def _one_byte_pages(index: int, meta: dict[str, Any], pages: bytes) -> tuple[dict[str, Any], bytes]:
    """The forged snapshot of finding 2: every page claims (and holds) one byte."""
    listed = [[addr, 1 if size else 0] for addr, size in meta["pages"]]
    meta["pages"] = listed
    return meta, bytes(sum(size for _addr, size in listed))


def test_a_snapshot_with_one_byte_pages_is_refused(tmp_path: Path) -> None:
    rec = edit_snapshots(SAMPLES / "hello.ttrec", tmp_path / "short.ttrec", _one_byte_pages)
    for args in (["replay", "--verify", str(rec)], ["info", str(rec)]):
        proc = run_ttdbg(args)
        assert_one_line_error(proc, str(rec), "holds 1 bytes, not 4096")


def test_the_native_restore_refuses_a_short_page() -> None:
    program = parse_program((BIN / "hello").read_bytes(), "hello")
    machine = Machine(program.arch)
    map_program(machine, program)
    start, end, _perms = machine.regions()[0]
    # A one-byte page: the restore would read a page's worth of host memory through it.
    plan = page_pointers(start, end, {start: b"A"})
    before = bytes(machine.uc.mem_read(start, end - start))
    with pytest.raises(ValueError, match="not 4096 bytes"):
        machine.scanner.restore_region(start, end, plan)
    assert bytes(machine.uc.mem_read(start, end - start)) == before


def test_a_recording_without_its_end_replays_to_its_last_known_icount(tmp_path: Path) -> None:
    # compute is CPU-bound: past its last snapshot nothing in the log would ever stop it.
    rec = cut_after_snapshot(SAMPLES / "compute.ttrec", tmp_path / "killed.ttrec", 40_000_000)
    info = run_ttdbg(["info", "--json", str(rec)])
    assert json.loads(info.stdout)["icount"] == 40_000_000
    proc = run_ttdbg(["replay", "--verify", str(rec)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().splitlines() == [
        "ttdbg: verified 3 snapshots",
        "ttdbg: recording is truncated; replayed to icount 40000000",
    ]


def _forge_rax(which: int) -> SnapshotEdit:
    """An edit setting rax to 0x4141414141414141 in snapshot number `which`."""

    def edit(index: int, meta: dict[str, Any], pages: bytes) -> tuple[dict[str, Any], bytes]:
        if index == which:
            meta["registers"]["rax"] = hex(0x4141414141414141)
        return meta, pages

    return edit


def test_an_edited_snapshot_is_refused_wherever_it_would_be_restored(tmp_path: Path) -> None:
    rec = edit_snapshots(SAMPLES / "hello.ttrec", tmp_path / "forged.ttrec", _forge_rax(1))
    last = open_recording(str(rec)).snapshots.icounts[1]
    for args in (["info", str(rec)], ["replay", "--verify", str(rec)]):
        assert_one_line_error(run_ttdbg(args), str(rec), f"icount {last}", "do not match its hash")
    timeline = Timeline(open_recording(str(rec)))  # what serve, gdb and the TUI seek through
    with pytest.raises(RecordingError, match="do not match its hash"):
        timeline.seek(last)


def test_verify_names_the_first_difference_of_a_forged_snapshot_with_a_valid_hash(
    tmp_path: Path,
) -> None:
    rec = edit_snapshots(SAMPLES / "hello.ttrec", tmp_path / "f.ttrec", _forge_rax(0), rehash=True)
    assert run_ttdbg(["info", str(rec)]).returncode == 0  # consistent in itself
    proc = run_ttdbg(["replay", "--verify", str(rec)])
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode().splitlines()[-1] == (
        "ttdbg: replay diverged at icount 0: expected the stored snapshot, "
        "found register rax: 0x4141414141414141 != 0x0"
    )


def test_a_snapshot_with_broken_lz4_fails_info_and_verify(tmp_path: Path) -> None:
    def break_lz4(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type != FrameType.SNAPSHOT:
            return None
        cut = SNAPSHOT_HEAD.size + 40
        payload = frame.payload[:cut] + bytes(b ^ 0x5A for b in frame.payload[cut : cut + 64])
        return [(frame.type, payload + frame.payload[cut + 64 :])]

    rec = rewrite(SAMPLES / "hello.ttrec", tmp_path / "lz4.ttrec", break_lz4)
    for args in (["info", str(rec)], ["replay", "--verify", str(rec)]):
        assert_one_line_error(run_ttdbg(args), str(rec), "snapshot at icount 0", "corrupt")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h.__setitem__("platform_version", "2"), "'platform_version' is not a count"),
        (lambda h: h.pop("env"), "field 'env' is missing"),
        (lambda h: h.__setitem__("argv", ["a", 3]), "'argv' is not a list of strings"),
        (lambda h: h.__setitem__("snapshot_every", -1), "'snapshot_every' is not a positive"),
        (lambda h: h.__setitem__("argv", ["x" * (40 << 20)]), "argv and environment take"),
    ],
)
def test_header_fields_are_type_checked(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    rec = edit_header(SAMPLES / "hello.ttrec", tmp_path / "h.ttrec", edit)
    assert_one_line_error(run_ttdbg(["info", str(rec)]), str(rec), message)


def test_end_fields_are_type_checked(tmp_path: Path) -> None:
    def bad_end(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type != FrameType.END:
            return None
        return [
            (FrameType.END, json.dumps({**json.loads(frame.payload), "icount": "abc"}).encode())
        ]

    rec = rewrite(SAMPLES / "hello.ttrec", tmp_path / "end.ttrec", bad_end)
    assert_one_line_error(run_ttdbg(["replay", str(rec)]), str(rec), "'icount' is not a count")


def _capped(limit: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _zeros_lz4(size: int) -> bytes:
    """`size` zero bytes as one lz4 frame, compressed in pieces (never all in memory)."""
    packer = lz4.frame.LZ4FrameCompressor()
    chunk = bytes(16 << 20)
    parts = [packer.begin()]
    parts += [packer.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, packer.flush()])


def test_an_event_frame_inflating_past_guest_memory_is_refused_within_bounded_memory(
    tmp_path: Path,
) -> None:
    # 1 GiB of zeros in ~4 MB of lz4, in a recording that declares 64 MiB of guest memory.
    bomb = EVENTS_HEAD.pack(0, 0) + _zeros_lz4(1 << 30)

    def inflate(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type == FrameType.HEADER:
            header = {**json.loads(frame.payload), "memory_limit": 64 << 20}
            return [(FrameType.HEADER, json.dumps(header).encode())]
        return [(FrameType.EVENTS, bomb)] if frame.type == FrameType.EVENTS else None

    rec = rewrite(SAMPLES / "hello.ttrec", tmp_path / "bomb.ttrec", inflate)
    proc = subprocess.run(
        [sys.executable, "-m", "ttdbg", "info", str(rec)],
        capture_output=True,
        timeout=300,
        preexec_fn=_capped(4 << 30),  # Unicorn alone reserves ~2.5 GiB of address space
    )
    assert_one_line_error(proc, str(rec), "inflates past the 134,217,728-byte limit")


def _edit_program(src: Path, dest: Path, edit: Callable[[bytearray], None]) -> Path:
    def change(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type != FrameType.PROGRAM:
            return None
        elf = bytearray(lz4.frame.decompress(frame.payload))
        edit(elf)
        return [(FrameType.PROGRAM, lz4.frame.compress(bytes(elf)))]

    return rewrite(src, dest, change)


def _first_load(elf: bytearray) -> int:
    """Offset of the first PT_LOAD program header of an ELF64 image."""
    (phoff,) = struct.unpack_from("<Q", elf, 32)
    (phnum,) = struct.unpack_from("<H", elf, 56)
    return next(phoff + 56 * i for i in range(phnum) if elf[phoff + 56 * i] == 1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (8, 2**64 - 1, "file bytes at offset 0xffffffffffffffff"),  # p_offset
        (16, 2**64 - 0x1000, "outside user space"),  # p_vaddr: the segment wraps 2^64
        (40, 0x7FFF00000000, "need 0x7fff"),  # p_memsz: 128 TiB of bss
    ],
)
def test_elf_segments_are_checked_before_anything_is_mapped(
    tmp_path: Path, field: int, value: int, message: str
) -> None:
    def edit(elf: bytearray) -> None:
        struct.pack_into("<Q", elf, _first_load(elf) + field, value)

    rec = _edit_program(SAMPLES / "hello.ttrec", tmp_path / "elf.ttrec", edit)
    proc = subprocess.run(
        [sys.executable, "-m", "ttdbg", "replay", str(rec)],
        capture_output=True,
        timeout=120,
        preexec_fn=_capped(4 << 30),
    )
    assert_one_line_error(proc, str(rec), message)


def test_a_device_or_fifo_is_refused_not_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.ttrec"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        assert_one_line_error(run_ttdbg(["info", path], timeout=60), path, "not a regular file")


def test_snapshots_stay_in_the_file_until_decoded(tmp_path: Path) -> None:
    rec_path = tmp_path / "walk.ttrec"
    rec_path.write_bytes((SAMPLES / "walk.ttrec").read_bytes())
    frames, _truncated = read_frames(str(rec_path), lazy=frozenset({FrameType.SNAPSHOT}))
    snaps = [f for f in frames if f.type == FrameType.SNAPSHOT]
    assert snaps
    assert all(len(f.payload) <= LAZY_HEAD < f.size for f in snaps)
    rec = open_recording(str(rec_path))
    rec.snapshots.state(len(rec.snapshots) - 1)  # read from the file now
    # A recording changed under an open session is noticed, not decoded as if it were valid.
    data = bytearray(rec_path.read_bytes())
    last = snaps[-1]
    data[last.offset + 9 + SNAPSHOT_HEAD.size + 5] ^= 0xFF
    rec_path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="changed since it was read"):
        rec.snapshots.check_all()


def test_an_event_log_larger_than_declared_memory_is_read_a_batch_at_a_time(
    tmp_path: Path,
) -> None:
    # 200,000 small events in 4 frames of lz4: little on disk, ~100 MB if all were decoded
    # at once, in a recording declaring 1 MiB of guest memory (the metadata margin is 64 MiB).
    def batch(first: int) -> bytes:
        events = [
            Event(EventKind.SYSCALL, first + i + 1, (39,) + (0,) * 6, 1) for i in range(50_000)
        ]
        return encode_events_frame(first, first, encode_events(events, first))

    batches = [batch(i * 50_000) for i in range(4)]
    written: list[bytes] = []

    def flood(frame: Frame) -> list[tuple[FrameType, bytes]] | None:
        if frame.type == FrameType.HEADER:
            header = {**json.loads(frame.payload), "memory_limit": 1 << 20}
            return [(FrameType.HEADER, json.dumps(header).encode())]
        if frame.type == FrameType.EVENTS:  # the recording's own events give way to these
            fresh = [b for b in batches if b not in written]
            written.extend(fresh)
            return [(FrameType.EVENTS, b) for b in fresh]
        return [] if frame.type in (FrameType.SNAPSHOT, FrameType.END) else None

    rec = rewrite(SAMPLES / "hello.ttrec", tmp_path / "flood.ttrec", flood, complete=False)
    # `info` reads every event; its peak memory is measured beside the same run on the
    # untouched recording (the event log is decoded and dropped a batch at a time).
    measure = (
        "import resource, runpy, sys\n"
        "sys.argv = ['ttdbg', 'info', sys.argv[1]]\n"
        "try:\n    runpy.run_module('ttdbg', run_name='__main__')\n"
        "finally:\n    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )

    def peak_kb(path: Path) -> tuple[int, bytes]:
        proc = subprocess.run(
            [sys.executable, "-c", measure, str(path)], capture_output=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-300:]
        return int(proc.stdout.split(b"PEAK ")[-1]), proc.stdout

    flood_peak, shown = peak_kb(rec)
    plain_peak, _ = peak_kb(SAMPLES / "hello.ttrec")
    assert b"200,000" in shown or b"200000" in shown
    assert flood_peak - plain_peak < 48 << 10, (flood_peak, plain_peak)  # KB: one batch's worth


@pytest.mark.parametrize(
    "mem",
    ["not an object", {"views": "x"}, {"views": [[0, 4096, "zz", 0]]}, {"views": [[1, 2]]}],
)
def test_a_snapshot_with_malformed_file_mappings_is_one_line_error(
    tmp_path: Path, mem: Any
) -> None:
    def edit(index: int, meta: dict[str, Any], pages: bytes) -> tuple[dict[str, Any], bytes]:
        meta["platform"]["mem"] = mem
        return meta, pages

    rec = edit_snapshots(SAMPLES / "inputs.ttrec", tmp_path / "views.ttrec", edit)
    for args in (["info", str(rec)], ["replay", "--verify", str(rec)]):
        assert_one_line_error(run_ttdbg(args), str(rec), "corrupt snapshot")


def test_a_logged_answer_that_does_not_unpack_is_a_divergence(tmp_path: Path) -> None:
    """A clock_gettime answer of 16 bytes of 0xff (a time past 2^63 ns) cannot be written
    back as a timespec: replay stops in one line at that call, as for any other altered log."""
    clock_gettime = 228
    rec = tmp_path / "clock.ttrec"
    icount = alter_first_event(
        SAMPLES / "inputs.ttrec",
        rec,
        lambda ev: (
            Event(ev.kind, ev.icount, ev.args, ev.result, b"\xff" * 16)
            if ev.kind == EventKind.SYSCALL and ev.args[:1] == (clock_gettime,)
            else None
        ),
    )
    assert icount >= 0, "the sample reads the clock"
    proc = run_ttdbg(["replay", str(rec)])
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"ttdbg: replay diverged at icount {icount}: expected a well-formed recorded "
        "answer to clock_gettime, found argument out of range"
    )
