"""`ttdbg index`: its writes and calls equal a brute-force replay's, whole and partial; a stale
or corrupt index is found; Ctrl-C leaves a consistent partial index."""

from __future__ import annotations

import bisect
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import BIN, SAMPLES, poll, require_tool, run_ttdbg
from tests.index.oracle import Truth, brute_force
from tests.threads.build import COMPILERS, native_argv
from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.index.interval import intervals
from ttdbg.index.query import run_query
from ttdbg.index.store import IndexStore

SAMPLE_RECORDINGS = ["walk", "aarch64/walk", "riscv64/walk", "inputs"]
_truths: dict[str, Truth] = {}


def truth_of(name: str) -> Truth:
    if name not in _truths:
        _truths[name] = brute_force(open_recording(str(SAMPLES / f"{name}.ttrec")))
    return _truths[name]


def copy_sample(name: str, tmp_path: Path) -> Path:
    path = tmp_path / "rec.ttrec"
    shutil.copyfile(SAMPLES / f"{name}.ttrec", path)
    return path


def index_rows(path: Path) -> tuple[list[tuple[Any, ...]], dict[int, dict[str, Any]]]:
    rec = open_recording(str(path))
    query = "SELECT icount, pc, addr, size, value, value_hi, coalesce(syscall, -1) FROM writes"
    writes = sorted(
        (icount, pc, addr, size, value | high << 64, syscall)
        for icount, pc, addr, size, value, high, syscall in run_query(rec, query).rows
    )
    calls = run_query(rec, "SELECT * FROM calls ORDER BY icount")
    return writes, {row[0]: dict(zip(calls.columns, row, strict=True)) for row in calls.rows}


@pytest.mark.parametrize("name", SAMPLE_RECORDINGS)
def test_whole_index_equals_a_brute_force_replay(name: str, tmp_path: Path) -> None:
    path = copy_sample(name, tmp_path)
    # The process pool once; the others in this process (the same code per interval).
    report = build_index(str(path), workers=2, runner=None if name == "walk" else run_here)
    assert report.indexed == report.intervals
    assert not report.cancelled
    truth = truth_of(name)
    writes, calls = index_rows(path)
    assert writes == sorted(truth.writes)
    assert calls == truth.calls
    assert any(c["return_icount"] is not None for c in calls.values())
    assert_reads_are_in_the_index(path)


def assert_reads_are_in_the_index(path: Path) -> None:
    """What each read() put into memory, by the event log (payload at the buffer argument),
    is in the index as that read's writes."""
    rec = open_recording(str(path))
    read = rec.program.arch.syscall_numbers["read"]
    rows = run_query(
        rec, f"SELECT icount, addr, size, value FROM writes WHERE syscall = {read}"
    ).rows
    by_call: dict[int, bytearray] = {}
    reads = [e for e in rec.events if e.kind == EventKind.SYSCALL and e.args[:1] == (read,)]
    for ev in reads:
        by_call[ev.icount] = bytearray(ev.result if ev.result > 0 else 0)
    for icount, addr, size, value in rows:
        ev = next(e for e in reads if e.icount == icount)
        at = addr - ev.args[2]
        by_call[icount][at : at + size] = value.to_bytes(8, "little")[:size]
    for ev in reads:
        assert bytes(by_call[ev.icount]) == ev.payload[: max(0, ev.result)], ev


def build_program(source: str, arch: str, tmp_path: Path) -> Path:
    """tests/index/<source> built static for `arch` (with threads) into tmp_path."""
    program = tmp_path / Path(source).stem
    cc = require_tool(COMPILERS[arch])
    cmd = [
        cc,
        "-O1",
        "-static",
        "-pthread",
        "-o",
        str(program),
        str(Path(__file__).parent / source),
    ]
    subprocess.run(cmd, check=True, timeout=180)
    return program


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_threads_switched_inside_calls_index_as_a_brute_force_replay(
    arch: str, tmp_path: Path
) -> None:
    """Two threads in recursive calls, switched every 997 instructions (so at block ends
    inside calls and returns, in the native switch and the Python one): every write equals
    the brute-force replay's, and every call's site, target, stack pointer, arguments, thread
    and return (each thread's returns pair with its own calls); every call of `fib` returns,
    as it does natively (under qemu-user off x86-64)."""
    program, path = build_program("threads.c", arch, tmp_path), tmp_path / "threads.ttrec"
    native = subprocess.run(native_argv(program, arch), capture_output=True, timeout=120)
    out = run_ttdbg(
        ["record", "--quantum", "997", "--snapshot-every", "20000", "-o", str(path), "--",
         str(program)]
    )  # fmt: skip
    assert (out.returncode, out.stdout) == (0, native.stdout), out.stderr
    rec = open_recording(str(path))
    assert sum(e.kind == EventKind.SWITCH for e in rec.events) > 20
    build_index(str(path), runner=run_here)
    truth = brute_force(rec)
    writes, calls = index_rows(path)
    assert writes == sorted(truth.writes)
    assert calls == truth.calls
    assert len({c["tid"] for c in calls.values()}) == 3
    # Returns linked to calls of earlier intervals (per thread) are among those compared.
    lows = [lo for lo, _hi in intervals(rec)]
    crossing = [
        c for c in calls.values()
        if c["return_icount"] is not None
        and bisect.bisect_right(lows, c["icount"]) != bisect.bisect_right(lows, c["return_icount"])
    ]  # fmt: skip
    assert len(crossing) > 10
    fib = run_query(
        rec, "SELECT count(*), count(return_icount) FROM calls_named WHERE callee = 'fib'"
    ).rows
    # fib(n) makes 2 fib(n + 1) - 1 calls (F(13) = 233, F(14) = 377): three of fib(12) and
    # three of fib(13).
    assert fib == [(3 * (2 * 233 - 1) + 3 * (2 * 377 - 1),) * 2]


@pytest.mark.parametrize("name", ["walk", "aarch64/walk", "riscv64/walk"])
def test_partial_index_holds_exactly_its_intervals(name: str, tmp_path: Path) -> None:
    path = copy_sample(name, tmp_path)
    rec = open_recording(str(path))
    spans = intervals(rec)
    chosen = [0, 2, 3]
    report = build_index(str(path), runner=run_here, only=chosen)
    assert report.indexed == len(chosen)
    assert IndexStore(str(path)).done() == chosen
    lows = [lo for lo, _hi in spans]

    def interval_of(icount: int) -> int:
        return bisect.bisect_right(lows, icount) - 1

    truth = truth_of(name)
    writes, calls = index_rows(path)
    assert writes == sorted(w for w in truth.writes if interval_of(w[0]) in chosen)
    expected = {}
    for icount, call in truth.calls.items():
        k = interval_of(icount)
        if k not in chosen:
            continue
        call = dict(call)
        ret = call["return_icount"]
        if ret is not None and not all(j in chosen for j in range(k, interval_of(ret) + 1)):
            call["return_icount"] = call["retval"] = None  # not knowable across a gap
        expected[icount] = call
    assert calls == expected
    # A second run fills in only what is missing, and then equals the whole truth.
    report = build_index(str(path), runner=run_here)
    assert report.indexed == len(spans) - len(chosen)
    assert report.reused == len(chosen)
    writes, calls = index_rows(path)
    assert writes == sorted(truth.writes)
    assert calls == truth.calls


def _indexed_pages(
    name: str, arch: str, tmp_path: Path, stdout: bytes
) -> tuple[Path, Recording, int]:
    """tests/index/NAME.c recorded (printing `stdout`, as natively) and indexed: its path, the
    recording and the base of its pages (found by the store of 0x5a at p[5])."""
    program, path = build_program(f"{name}.c", arch, tmp_path), tmp_path / f"{name}.ttrec"
    native = subprocess.run(native_argv(program, arch), capture_output=True, timeout=120)
    assert native.stdout == stdout, native.stderr
    out = run_ttdbg(["record", "-o", str(path), "--", str(program)])
    assert (out.returncode, out.stdout) == (0, native.stdout), out.stderr
    build_index(str(path), runner=run_here)
    rec = open_recording(str(path))
    # At offset 5 of a page, where the program stores it: on RISC-V a start-up store on the
    # stack of a byte that differs between runs was 0x5a too in one run of 24.
    [(first,)] = run_query(
        rec,
        "SELECT addr FROM writes WHERE value = 90 AND size = 1 AND syscall IS NULL"
        " AND addr % 4096 = 5",
    ).rows
    return path, rec, first - 5


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_dontneed_is_a_write_of_zero_fill_over_the_pages_that_were_not_zero(
    arch: str, tmp_path: Path
) -> None:
    """madvise(MADV_DONTNEED) over four pages (two with non-zero bytes, one with only a zero
    an instruction stored, one never touched): Linux drops them, and they read back as zero.
    The index holds the madvise as a write of zeros over each whole page that was not zero,
    at the syscall's icount, and nothing over the pages that were zero already (no byte of
    them changed): there the store of zero stays the last write. Every write also equals the
    brute-force replay's."""
    path, rec, base = _indexed_pages("dontneed", arch, tmp_path, b"0 0 0\n")
    madvise = rec.program.arch.syscall_numbers["madvise"]
    rows = run_query(
        rec,
        f"SELECT icount, addr, size, value, value_hi, syscall FROM writes "
        f"WHERE addr >= {base} AND addr < {base + 4 * 4096} ORDER BY addr, icount",
    ).rows
    [at] = {icount for icount, *_rest, nr in rows if nr is not None}
    dropped = [
        (at, addr, 8, 0, 0, madvise)
        for page in (0, 2)
        for addr in range(base + page * 4096, base + (page + 1) * 4096, 8)
    ]
    assert [row for row in rows if row[5] is not None] == dropped
    stores = [row for row in rows if row[5] is None]
    assert [(addr - base, value) for _i, addr, _s, value, _h, _n in stores] == [
        (5, 0x5A), (4096 + 7, 0), (2 * 4096 + 4095, 0xA5)
    ]  # fmt: skip
    assert all(icount < at for icount, *_rest in stores)
    writes, _calls = index_rows(path)
    assert writes == sorted(brute_force(rec).writes)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "riscv64"])
def test_a_mapping_made_where_pages_were_unmapped_reads_zeros_written_by_the_munmap(
    arch: str, tmp_path: Path
) -> None:
    """munmap of two pages holding non-zero bytes, then an anonymous mmap at the same
    addresses: the new mapping reads zeros, as on Linux. The index holds the munmap as a write
    of zeros over each page that was not zero, at the syscall's icount, as it holds
    MADV_DONTNEED; `last` of those bytes at the end goes there, by index lookup as by the
    replay scan, and not to the stores made before the unmap. Every write also equals the
    brute-force replay's."""
    path, rec, base = _indexed_pages("remap", arch, tmp_path, b"0 0\n")
    munmap = rec.program.arch.syscall_numbers["munmap"]
    rows = run_query(
        rec,
        f"SELECT icount, addr, size, value, syscall FROM writes WHERE syscall IS NOT NULL "
        f"AND addr >= {base} AND addr < {base + 2 * 4096} ORDER BY addr",
    ).rows
    [at] = {icount for icount, *_rest in rows}
    assert rows == [(at, addr, 8, 0, munmap) for addr in range(base, base + 2 * 4096, 8)]
    stores = run_query(
        rec,
        f"SELECT icount FROM writes WHERE syscall IS NULL "
        f"AND addr >= {base} AND addr < {base + 2 * 4096}",
    ).rows
    assert len(stores) == 2
    assert all(icount < at for (icount,) in stores)
    fast, slow = Timeline(rec), Timeline(open_recording(str(path)))
    slow.index = None
    for offset in (5, 4096 + 9):
        for tl in (fast, slow):
            tl.seek(tl.end)
        hit, scanned = fast.last_write(base + offset, 1), slow.last_write(base + offset, 1)
        assert fast.answered_by_index
        assert hit == scanned
        assert isinstance(hit, WatchpointHit)
        assert (hit.syscall, hit.new) == (munmap, b"\0")
        assert at <= hit.icount <= at + 1  # where the syscall's write is done, by arch
    writes, _calls = index_rows(path)
    assert writes == sorted(brute_force(rec).writes)


def test_returns_that_release_stack_arguments_match_their_calls(tmp_path: Path) -> None:
    """x86-64 `ret N` leaves the stack pointer N bytes above where its call's return address
    was: the call is still matched, with its return value."""
    program, path = tmp_path / "retn", tmp_path / "retn.ttrec"
    source = Path(__file__).with_name("retn.c")
    cmd = [require_tool("gcc"), "-O1", "-static", "-o", str(program), str(source)]
    subprocess.run(cmd, check=True, timeout=120)
    out = run_ttdbg(["record", "-o", str(path), "--", str(program)])
    assert out.returncode == 0, out.stderr
    build_index(str(path), runner=run_here)
    writes, calls = index_rows(path)
    truth = truth_of_path(path)
    assert writes == sorted(truth.writes)
    assert calls == truth.calls
    rec = open_recording(str(path))
    pops8 = run_query(
        rec, "SELECT retval FROM calls_named WHERE callee = 'pops8' ORDER BY icount"
    ).rows
    assert pops8 == [(i * 10 + 1,) for i in range(5)]


def test_a_changed_recording_is_refused_then_rebuilt(tmp_path: Path) -> None:
    path = copy_sample("walk", tmp_path)
    assert run_ttdbg(["index", str(path), "--workers", "1"]).returncode == 0
    shutil.copyfile(SAMPLES / "hello.ttrec", path)  # same name, other bytes
    out = run_ttdbg(["query", str(path), "SELECT count(*) FROM writes"])
    assert out.returncode == 2
    message = out.stderr.decode().strip()
    assert "changed since it was indexed" in message
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1
    assert run_ttdbg(["index", str(path), "--workers", "1"]).returncode == 0
    rec = open_recording(str(path))
    assert len(IndexStore(str(path)).done()) == len(intervals(rec))
    writes, _calls = index_rows(path)
    assert writes == sorted(truth_of_path(path).writes)


def truth_of_path(path: Path) -> Truth:
    return brute_force(open_recording(str(path)))


def test_a_corrupt_file_is_reported_then_rebuilt(tmp_path: Path) -> None:
    path = copy_sample("walk", tmp_path)
    build_index(str(path), runner=run_here)
    store = IndexStore(str(path))
    victim = Path(store.file("writes", 3))
    victim.write_bytes(victim.read_bytes()[:40])
    out = run_ttdbg(["query", str(path), "SELECT count(*) FROM writes"])
    assert out.returncode == 2
    assert "corrupt" in out.stderr.decode()
    assert "Traceback" not in out.stderr.decode()
    report = build_index(str(path), runner=run_here)
    assert report.indexed == 1
    writes, _calls = index_rows(path)
    assert writes == sorted(truth_of("walk").writes)


@pytest.mark.slow
def test_ctrl_c_leaves_a_consistent_partial_index(tmp_path: Path) -> None:
    path = tmp_path / "compute.ttrec"
    out = run_ttdbg(
        ["record", "-o", str(path), "--snapshot-every", "300000", "--max-insns", "12000000",
         "--", str(BIN / "compute")]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    total = len(intervals(open_recording(str(path))))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "index", str(path), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    store = IndexStore(str(path))
    try:
        poll(lambda: len(store.done()) >= 2, 120, "two intervals indexed")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    done = store.done()
    assert proc.returncode == 130, err
    assert "interrupted" in err.decode()
    assert "Traceback" not in err.decode()
    assert 2 <= len(done) < total
    for k in done:
        assert store.verify(k)
        pq.read_table(store.file("writes", k))
    assert not list(Path(store.path).rglob("*.tmp"))
    report = build_index(str(path), runner=run_here)
    assert report.reused == len(done)
    assert report.indexed == total - len(done)
