"""The initial stack is laid out as Linux's create_elf_tables lays it out: a native run under
`setarch -R` (no randomization) with the same environment, argv and program path sees the
same addresses for the stack pointer, the argv/envp/auxv strings and AT_RANDOM's bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool
from tests.guest_programs import ARCHES, build, native_command

ENV = {"A": "1", "B": "two words"}
ARGS = ["x", "two words"]


def record(program: Path, out: Path) -> bytes:
    """`ttdbg record` started, like the native run, with exactly ENV (as env -i would)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ttdbg", "record", "-o", str(out), "--", str(program), *ARGS],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def fields(output: bytes) -> dict[str, str]:
    """'name value...' lines by name."""
    return dict(line.split(" ", 1) for line in output.decode().splitlines())


def test_x86_64_stack_addresses_equal_a_native_run_under_setarch(tmp_path: Path) -> None:
    setarch = require_tool("setarch")
    program = build("stackaddrs", "x86_64")
    native = subprocess.run(
        [setarch, "x86_64", "-R", str(program), *ARGS], env=ENV, capture_output=True, timeout=60
    )
    assert native.returncode == 0, native.stderr
    ours = fields(record(program, tmp_path / "s.ttrec"))
    theirs = fields(native.stdout)
    for name in ("sp", "argv[0]", "argv[2]", "envp[0]", "AT_RANDOM", "AT_EXECFN", "AT_PLATFORM"):
        assert ours[name] == theirs[name], name
    # Same length and order; ttdbg has AT_IGNORE (1) where Linux has the vDSO (33) and the
    # rseq entries of Linux 6.3+ (27, 28; rseq is ENOSYS here).
    vdso_and_rseq = {"33": "1", "27": "1", "28": "1"}
    address, keys = theirs["auxv"].split(":")
    expected = [vdso_and_rseq.get(k, k) for k in keys.split()]
    if "27" not in keys.split():  # a kernel before 6.3
        expected += ["1", "1"]
    assert ours["auxv"].split(":")[1].split() == expected
    if "27" in keys.split():
        assert ours["auxv"].split(":")[0] == address
    assert ours["brk"] == theirs["brk"]


def test_x86_64_first_malloc_as_linux_without_a_vdso(tmp_path: Path) -> None:
    """glibc's static start-up allocates a link_map for the vDSO, which ttdbg does not have:
    the first malloc is where a vDSO-less Linux ABI run (qemu-x86_64) puts it (see README)."""
    program = build("stackaddrs", "x86_64")
    qemu = subprocess.run(
        [require_tool("qemu-x86_64"), str(program), *ARGS],
        env=ENV,
        capture_output=True,
        timeout=60,
    )
    assert qemu.returncode == 0, qemu.stderr
    assert fields(record(program, tmp_path / "s.ttrec"))["first"] == fields(qemu.stdout)["first"]


@pytest.mark.parametrize("arch", ARCHES)
def test_layout_follows_create_elf_tables(arch: str, tmp_path: Path) -> None:
    """On every architecture (qemu-user's own layout is not Linux's, so this checks the rules
    themselves): the execfn string ends 8 bytes below the stack top, the envp and argv strings
    lie below it in order, the platform string below the 16-byte aligned end of those, then
    AT_RANDOM's 16 bytes, and the stack pointer is 16-byte aligned."""
    program = build("stackaddrs", arch)
    native = subprocess.run(native_command(arch, program) + ARGS, env=ENV, capture_output=True)
    assert native.returncode == 0
    out = fields(record(program, tmp_path / "s.ttrec"))

    def addr(name: str) -> int:
        return int(out[name].split()[0], 16)

    top = {"x86_64": 0x7FFFFFFFF000, "aarch64": 0xFFFFFFFFF000, "riscv64": 0x3FFFFFF000}[arch]
    execfn = str(program).encode()
    assert addr("AT_EXECFN") == top - 8 - len(execfn) - 1
    env = [f"{k}={v}".encode() for k, v in ENV.items()]
    assert addr("envp[0]") == addr("AT_EXECFN") - sum(len(e) + 1 for e in env)
    args = [execfn, *(a.encode() for a in ARGS)]
    assert addr("argv[0]") == addr("envp[0]") - sum(len(a) + 1 for a in args)
    aligned = addr("argv[0]") & ~0xF
    platform = out["AT_PLATFORM"].split()
    below = aligned - len(platform[1]) - 1 if platform[1] != "(none)" else aligned
    assert platform[0] == (hex(below) if platform[1] != "(none)" else "(nil)")
    assert addr("AT_RANDOM") == below - 16
    assert addr("sp") % 16 == 0
