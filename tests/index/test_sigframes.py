"""Signal frames in the index: the frame the kernel (ttdbg) writes onto the stack as a signal
is delivered is rows of the signal, so `last` on a stack slot a frame overwrote names the
delivery; checked against a brute-force forward replay (every write to the frames' stack
range), the replay scan and the states just before and after the delivery, on all three
architectures. The timer signal arrives in a loop after some 4 million instructions: a Python
hook on every instruction would take minutes, one on writes to the range takes a second."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import unicorn

from tests.conftest import require_tool, run_native, run_ttdbg
from tests.guest_programs import native_command
from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.gdb.monitor import MonitorCommands
from ttdbg.backend.machine import KernelWrite
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process
from ttdbg.backend.stops import WatchpointHit
from ttdbg.backend.timeline import Timeline, TimelineError
from ttdbg.index.build import build_index, run_here
from ttdbg.index.native import pieces
from ttdbg.index.query import run_query

SOURCE = Path(__file__).with_name("sigframes.c")
COMPILERS = {
    "x86_64": "gcc",
    "aarch64": "aarch64-linux-gnu-gcc",
    "riscv64": "riscv64-linux-gnu-gcc",
}
SIGNALS = (int(signal.SIGUSR1), int(signal.SIGALRM))  # the same numbers on all three
Write = tuple[int, int, int, int, int, int]  # icount, pc, addr, size, value, syscall (-1: none)


def brute_force(path: Path, lo: int, hi: int) -> list[Write]:
    """Every write touching [lo, hi) in execution order, by one forward replay from icount
    0 with a Python hook on the guest's stores there and the platform's writes (syscalls,
    signal frames), cut into the index's pieces; a 16-byte store as its two 8-byte pieces."""
    rec = open_recording(str(path))
    proc = new_replay_process(rec)
    m = proc.machine
    found: list[Write] = []
    pc_id = m.arch.register(m.arch.pc).uc_id

    def on_write(_uc: unicorn.Uc, _a: int, addr: int, size: int, value: int, _d: object) -> None:
        if addr < hi and lo < addr + size:
            pc = m.uc.reg_read(pc_id)
            found.append((m.icount_at(pc), pc, addr, size, value & ((1 << 8 * size) - 1), -1))

    def on_kernel_write(write: KernelWrite) -> None:
        if write.addr < hi and lo < write.addr + len(write.new):
            nr = -1 if write.nr is None else write.nr
            found.extend(
                (write.icount, write.pc, a, n, v, nr) for a, n, v in pieces(write.addr, write.new)
            )

    m.kernel_write_listener = on_kernel_write
    m.uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, on_write, None, max(0, lo - 16), hi)
    m.uc.ctl_flush_tb()
    end = rec.last_known_icount
    while m.icount < end and m.halted is None:
        m.run(end - m.icount)
    return found


def indexed(path: Path, lo: int, hi: int) -> list[Write]:
    """The index's writes touching [lo, hi), a 16-byte store as its two 8-byte pieces."""
    query = (
        "SELECT icount, pc, addr, size, value, value_hi, coalesce(syscall, -1) FROM writes "
        f"WHERE addr < {hi} AND addr + size > {lo}"
    )
    out: list[Write] = []
    for icount, pc, addr, size, value, high, syscall in run_query(
        open_recording(str(path)), query
    ).rows:
        if size == 16:
            out += [(icount, pc, addr, 8, value, syscall), (icount, pc, addr + 8, 8, high, syscall)]
        else:
            out.append((icount, pc, addr, size, value, syscall))
    return out


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def sigframes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[Write]]:
    """sigframes.c recorded and indexed, and the brute force's writes to its frames' range."""
    cc = require_tool(COMPILERS[request.param])
    tmp = tmp_path_factory.mktemp("sigframes")
    program, path = tmp / "sigframes", tmp / "sigframes.ttrec"
    subprocess.run([cc, "-O1", "-static", "-o", str(program), str(SOURCE)], check=True, timeout=120)
    native = run_native(native_command(request.param, program))
    assert (native.returncode, native.stdout) == (0, b"ok\n")
    out = run_ttdbg(["record", "-o", str(path), "--", str(program)])
    assert (out.returncode, out.stdout) == (0, b"ok\n"), out.stderr
    build_index(str(path), runner=run_here)
    rows = [r for frame in frame_rows(path).values() for r in frame]
    lo, hi = min(a for _i, a, _s in rows), max(a + s for _i, a, s in rows)
    return path, brute_force(path, lo, hi)


def frame_rows(path: Path) -> dict[int, list[tuple[int, int, int]]]:
    """signal -> (icount, addr, size) of its frame's rows."""
    query = "SELECT signal, icount, addr, size FROM writes WHERE signal IS NOT NULL"
    found: dict[int, list[tuple[int, int, int]]] = {}
    for sig, icount, addr, size in run_query(open_recording(str(path)), query).rows:
        found.setdefault(sig, []).append((icount, addr, size))
    return found


def test_frames_are_rows_as_a_brute_force_replay_finds(
    sigframes: tuple[Path, list[Write]],
) -> None:
    """Every write to the frames' range, the frames' included, equals the brute-force
    replay's; each frame is at the icount whose step delivers it: absent from the state
    there, present one later."""
    path, truth = sigframes
    frames = frame_rows(path)
    rows = [r for frame in frames.values() for r in frame]
    lo, hi = min(a for _i, a, _s in rows), max(a + s for _i, a, s in rows)
    # The same writes; in a Python write hook Unicorn's pc can lag behind the store's own
    # instruction, so the brute force names the frames' icounts only (the platform's).
    assert sorted(w[2:] for w in indexed(path, lo, hi)) == sorted(w[2:] for w in truth)
    for sig, frame in frames.items():
        heard = {(w[0], w[2], w[3]) for w in truth if w[0] == frame[0][0] and w[5] == -1}
        assert set(frame) <= heard, sig
    rec = open_recording(str(path))
    assert sorted(frames) == sorted(SIGNALS)
    tl = Timeline(rec)
    for sig, rows in frames.items():
        (icount,) = {i for i, _a, _s in rows}
        tl.seek(icount + 1)
        after = [tl.read_memory(a, n) for _i, a, n in rows]
        tl.seek(icount)
        before = [read_or_none(tl, a, n) for _i, a, n in rows]
        # Not there before its icount's step (the sigreturn trampoline page not even mapped
        # before the first delivery, on AArch64 and RISC-V), there after it.
        assert any(b != a for b, a in zip(before, after, strict=True)), sig


def read_or_none(tl: Timeline, addr: int, size: int) -> bytes | None:
    try:
        return tl.read_memory(addr, size)
    except TimelineError:
        return None


def last_writer(truth: list[Write], addr: int, size: int, before: int) -> tuple[int, int] | None:
    """(icount, pc) of the last write before `before` touching [addr, addr+size), by truth."""
    best = None
    for w in truth:  # in execution order
        icount, pc, at, n = w[:4]
        if icount < before and at < addr + size and addr < at + n:
            best = (icount, pc)
        elif icount >= before and best is not None:
            break
    return best


def test_last_on_slots_a_frame_overwrote(sigframes: tuple[Path, list[Write]]) -> None:
    """`last` just after a delivery, on stack slots the program wrote before the frame went
    over them, names the delivery (by index lookup and by the replay scan alike, as the
    brute-force replay has it: its icount and pc), with the bytes now there, and stops where
    gdb stops at a write found going backwards; `monitor last` says so."""
    path, truth = sigframes
    rec = open_recording(str(path))
    fast, slow = Timeline(rec), Timeline(open_recording(str(path)))
    slow.index = None
    for sig, rows in frame_rows(path).items():
        icount = rows[0][0]
        overwritten = [
            (addr, size)
            for _i, addr, size in rows
            if any(w[0] < icount and w[2] == addr and w[5] == -1 for w in truth)
        ]
        assert overwritten, sig  # without frames in the index, `last` named those stores
        picks = {overwritten[0], overwritten[len(overwritten) // 2], overwritten[-1]}
        # Where gdb stops at a write found going backwards: on the writing step where its
        # watchpoints are steppable (x86-64), after it where they are not (AArch64, RISC-V).
        landing = icount if fast.machine.arch.watchpoints_steppable else icount + 1
        for addr, size in sorted(picks):
            writer = last_writer(truth, addr, size, icount + 1)
            assert writer == (icount, rows_pc(truth, icount))
            fast.seek(icount + 1)
            slow.seek(icount + 1)
            now = fast.read_memory(addr, size)
            a, b = fast.last_write(addr, size), slow.last_write(addr, size)
            assert fast.answered_by_index
            assert a == b
            assert isinstance(a, WatchpointHit)
            assert (a.signal, a.syscall, a.new) == (sig, None, now)
            assert (a.icount, a.pc, fast.position) == (landing, writer[1], landing)
        fast.seek(icount + 1)
        addr, size = overwritten[0]
        ok, text = MonitorCommands(fast).run(f"last {addr:#x} {size}", CancelToken())
        assert ok, text
        name = signal.Signals(sig).name
        assert f"written at icount {icount} by the delivery of {name} (its frame" in text, text


def rows_pc(truth: list[Write], icount: int) -> int:
    """The pc of the frame rows at `icount` (the brute force takes it from the platform)."""
    return next(w[1] for w in truth if w[0] == icount and w[5] == -1)
