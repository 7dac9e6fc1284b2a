"""The oracle for breakpoints in RELOADS' libtarget: every call of target_fn, found by a
brute-force replay with hooks at both addresses the program printed for it, kept only while
the program says that address held it."""

from __future__ import annotations

from pathlib import Path

import unicorn

from ttdbg.backend.eventlog import EventKind
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import new_replay_process


def guest_lines(rec: Path) -> list[tuple[int, str]]:
    """(icount, text) of each write of the program to stdout (unbuffered: a printf is one,
    a puts two: its text, then the newline alone, left out here)."""
    recording = open_recording(str(rec))
    write = recording.program.arch.syscall_numbers["write"]
    return [
        (ev.icount, ev.payload.decode().strip())
        for ev in recording.events
        if ev.kind == EventKind.SYSCALL and ev.args[:2] == (write, 1) and ev.payload != b"\n"
    ]


def brute_force(rec: Path, addresses: set[int]) -> list[tuple[int, int]]:
    """(icount, pc) of every instruction run at one of `addresses`: a replay from reset to
    the end in one go, with a hook on each address for the whole run."""
    recording = open_recording(str(rec))
    proc = new_replay_process(recording)
    m = proc.machine
    seen: list[tuple[int, int]] = []

    def on_code(uc: unicorn.Uc, addr: int, size: int, _data: object) -> None:
        seen.append((m.icount_at(addr), addr))

    for addr in addresses:
        m.uc.hook_add(unicorn.UC_HOOK_CODE, on_code, None, addr, addr)
    proc.run(recording.last_known_icount)
    assert m.icount == recording.last_known_icount
    return seen


def target_calls(rec: Path, past_entry: int) -> tuple[list[tuple[int, int]], int]:
    """(icount, pc) of the two calls of target_fn, `past_entry` bytes into it (where a
    breakpoint on it stops), and that address in its first load, where libother's function
    runs later (checked: the scenario RELOADS is for)."""
    lines = guest_lines(rec)
    assert [text.split(" at ")[0] for _i, text in lines[:5]] == [
        "target_fn", "closed target_fn", "other_fn", "target_fn", "closed target_fn",
    ], lines  # fmt: skip
    (opened1, at1), (closed1, _), (_, other_at), (opened2, at2), (closed2, _) = lines[:5]
    first, other, second = (int(text.split(" at ")[1], 16) for text in (at1, other_at, at2))
    # libother's function runs where libtarget's did; libtarget's second load is elsewhere.
    assert other == first != second
    stop1, stop2 = first + past_entry, second + past_entry
    seen = brute_force(rec, {stop1, stop2})
    hits = [
        (icount, pc)
        for icount, pc in seen
        if (pc == stop1 and opened1 < icount < closed1)
        or (pc == stop2 and opened2 < icount < closed2)
    ]
    assert len(hits) == 2, seen
    # A breakpoint left at the first load's address would stop in other_fn, twice.
    assert len([pc for _i, pc in seen if pc == stop1]) == 3, seen
    return hits, stop1
