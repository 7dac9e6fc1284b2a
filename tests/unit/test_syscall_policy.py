"""The fidelity policy, enforced over every architecture's syscall table.

Every row is performed on the host (its answer logged), emulated from the guest's state, a
declared no-op with its reason, or refused; any other number returns ENOSYS. The probe calls
every row with several argument vectors while recording and looks at what changed: a call that
reports success must have done something (logged a host answer, written guest memory, changed
registers, the memory map or the platform state) or returned an answer (a positive number).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from ttdbg.backend.arch import ARCHES
from ttdbg.backend.linux.calls.signatures import SIGNATURES, param_types
from ttdbg.backend.linux.calls.table import ROWS, Kind

# Calls where success with no effect is Linux's own answer to the probe's arguments.
ZERO_IS_THE_ANSWER = {
    "kill": "signal 0 only asks whether the target exists",
    "tkill": "signal 0 only asks whether the target exists",
    "tgkill": "signal 0 only asks whether the target exists",
    "dup2": "dup2(fd, fd) returns fd, here 0",
    "futex": "FUTEX_WAKE returns how many waiters it woke: with one thread, none",
    "munmap": "unmapping a range where nothing is mapped succeeds on Linux too",
    "munlock": "unlocking pages that are not locked succeeds on Linux too",
    "msync": "no shared file mapping in the range: Linux has nothing to write back either",
    "madvise": "advice other than MADV_DONTNEED changes nothing the process can read back",
    "getrlimit": "RLIMIT_CPU is RLIM_INFINITY: all ones, as the probe's buffer already holds",
    "setrlimit": "setting a limit to the value it has",
    "sched_setaffinity": "a mask that holds CPU 0, the only CPU, changes nothing",
    "sched_get_priority_max": "SCHED_OTHER and SCHED_BATCH have the one static priority 0",
    "sched_get_priority_min": "SCHED_OTHER and SCHED_BATCH have the one static priority 0",
}
# A write of zeros into the zeroed buffer cannot show: that probe is checked for crashes and
# for reaching the host only.
EFFECT_PROBES = ("typed-ff", "fd")


def test_every_row_declares_its_kind_and_no_op_rows_say_why() -> None:
    for name, row in ROWS.items():
        assert isinstance(row.kind, Kind), name
        assert (row.kind is Kind.NOOP) == bool(row.why), f"{name}: only no-op rows need a why"


def test_every_row_has_a_c_signature_for_its_arguments() -> None:
    for name in ROWS:
        assert name in SIGNATURES, f"{name} has no C signature in signatures.py"
        types = param_types(name)
        assert types is not None, name
        assert len(types) <= 6, name


def test_every_row_has_a_number_on_some_architecture() -> None:
    numbered = set().union(*(a.syscall_numbers for a in ARCHES.values()))
    assert set(ROWS) <= numbered, sorted(set(ROWS) - numbered)


def test_int_arguments_are_sign_extended_from_32_bits() -> None:
    from ttdbg.backend.linux.calls.signatures import decoder

    poll = decoder("poll")
    assert poll is not None
    # poll(fds, n, -1) as a libc passes it: the upper half of the register is not the kernel's.
    assert poll((0x1000, 2, 0xFFFFFFFF)) == (0x1000, 2, -1)
    assert poll((0x1000, 2, 0x12345678_FFFFFFFF)) == (0x1000, 2, -1)
    mkdirat = decoder("mkdirat")
    assert mkdirat is not None
    assert mkdirat(((1 << 64) - 100, 0x2000, 0x1_0000_01ED)) == (
        -100,
        0x2000,
        0o755,
    )


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    cwd: Path = tmp_path_factory.mktemp("probe")
    out = subprocess.run(
        [sys.executable, "-m", "tests.unit.syscall_probe"],
        capture_output=True,
        timeout=600,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return [json.loads(line) for line in out.stdout.decode().splitlines()]


@pytest.mark.slow
def test_no_row_crashes_on_any_probe(probes: list[dict[str, object]]) -> None:
    crashes = [
        f"{p['arch']} {p['name']} {p['probe']}: {p['crash']}" for p in probes if "crash" in p
    ]
    assert not crashes, "\n".join(crashes)


@pytest.mark.slow
def test_no_row_returns_success_without_effect(probes: list[dict[str, object]]) -> None:
    silent = []
    for p in probes:
        row = ROWS[str(p["name"])]
        if p["probe"] not in EFFECT_PROBES or p.get("result") != 0 or p["changed"]:
            continue
        if row.kind is not Kind.NOOP and p["name"] not in ZERO_IS_THE_ANSWER:
            silent.append(f"{p['arch']} {p['name']}({p['probe']})")
    assert not silent, "success without effect: " + ", ".join(silent)


@pytest.mark.slow
def test_host_rows_reach_the_host_through_the_log(probes: list[dict[str, object]]) -> None:
    logged = {(p["arch"], p["name"]) for p in probes if "log" in p.get("changed", [])}
    probed = {(p["arch"], p["name"]) for p in probes}
    host_rows = {(a, n) for a, n in probed if ROWS[str(n)].kind is Kind.HOST}
    assert host_rows - logged == set()


def test_refused_rows_end_the_recording_with_the_call_named() -> None:
    refused = sorted(n for n, r in ROWS.items() if r.kind is Kind.REFUSED)
    # clone and clone3 start threads; they refuse only when asked for a new process.
    assert refused == ["execve", "execveat", "fork", "vfork"]
