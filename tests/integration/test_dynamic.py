"""Dynamic executables: recorded and replayed output equals the native run (qemu-user with
the cross sysroot for AArch64 and RISC-V), and a recording replays without the libraries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing, require_tool, run_native, run_ttdbg
from tests.integration.dynprogs import (
    C_PROGRAM,
    CPP_PROGRAM,
    DLOPENS,
    LIBRARY,
    MAPPING_EDGES,
    PLUGIN,
    PRELOAD,
    READS_FILES,
    USES_LIBRARY,
    compile_source,
)
from ttdbg.backend.hostmem import HostMemory
from ttdbg.backend.linux.memory import AddressSpace
from ttdbg.backend.recfile import FrameType, RecordingWriter, read_frames
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import open_recording
from ttdbg.backend.replayer import replay

SYSROOTS = {"aarch64": "/usr/aarch64-linux-gnu", "riscv64": "/usr/riscv64-linux-gnu"}
ARCHES = ["x86_64", "aarch64", "riscv64"]


def native_argv(arch: str, argv: list[str]) -> list[str]:
    """How to run a program of `arch` natively: directly, or under qemu-user with -L."""
    if arch == "x86_64":
        return argv
    if not os.path.isdir(SYSROOTS[arch]):
        missing(f"the {arch} C library ({SYSROOTS[arch]}) is not installed")
    return [require_tool(f"qemu-{arch}"), "-L", SYSROOTS[arch], *argv]


def record(
    argv: list[str], rec: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`ttdbg record` with extra environment variables for the guest."""
    proc = subprocess.run(
        [sys.executable, "-m", "ttdbg", "record", "-o", str(rec), "--", *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=600,
        cwd=cwd,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc


def replay_verified(rec: Path, status: int = 0) -> bytes:
    """Replay with every snapshot checked, from a directory unrelated to the recording."""
    proc = run_ttdbg(["replay", "--verify", str(rec)], timeout=600, cwd="/")
    assert proc.returncode == status, proc.stderr  # the program's own, as when recorded
    assert b"verified" in proc.stderr, proc.stderr
    return proc.stdout


def assert_like_native(
    arch: str, argv: list[str], rec: Path, env: dict[str, str] | None = None
) -> bytes:
    native = (
        run_native(native_argv(arch, argv), timeout=120)
        if not env
        else subprocess.run(
            native_argv(arch, argv), env={**os.environ, **env}, capture_output=True, timeout=120
        )
    )
    recorded = record(argv, rec, env)
    assert recorded.stdout == native.stdout, recorded.stderr
    assert recorded.returncode == native.returncode
    assert replay_verified(rec, native.returncode) == native.stdout
    return native.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_c_program_maps_files_like_linux(arch: str, tmp_path: Path) -> None:
    """PIE and position-dependent: the auxiliary vector describes the loader and program as
    Linux's does, and file mappings behave as natively."""
    data = tmp_path / "data.txt"
    data.write_bytes(b"A" * 4096 + b"B" * 1903 + b"\n")
    for variant, extra in (("pie", ["-pie"]), ("fixed", ["-no-pie"])):
        prog = compile_source(tmp_path, f"prog-{variant}", C_PROGRAM, *extra, arch=arch)
        out = assert_like_native(arch, [str(prog), "you", str(data)], tmp_path / f"{variant}.ttrec")
        assert b"fixed over BBBBB" in out
        facts = out[: out.index(b"step 0")]  # AT_BASE, AT_ENTRY, AT_PHDR, AT_PHNUM
        assert b" 0" not in facts, facts
        assert re.search(rb"^loader ld-linux-[\w.-]+\.so\.[12] at AT_BASE$", facts, re.M), facts
        assert facts.count(b"program: ") == 2, facts
        assert b"shared writable on a read-only fd: Permission denied" in out


def _noting(method: Callable[..., bool], answers: list[bool]) -> Callable[..., bool]:
    def noted(*args: Any) -> bool:
        answers.append(method(*args))
        return answers[-1]

    return noted


@pytest.mark.parametrize("arch", ARCHES)
def test_in_place_mappings_leave_the_states_fresh_ones_do(
    arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Record with a library's segments remapped in place and regions split in place on
    ttdbg's own host memory; replay with both turned off (pages mapped and written afresh,
    regions in Unicorn's own memory, split by copying): every stored snapshot equals the
    replayed state, so the shortcuts change no byte, protection, region or bookkeeping."""
    native_argv(arch, [])  # skips (fails in CI) without the arch's C library
    data = tmp_path / "data.txt"
    data.write_bytes(b"A" * 4096 + b"B" * 1903 + b"\n")
    prog = compile_source(tmp_path, "prog", C_PROGRAM, arch=arch)
    argv = [str(prog), "you", str(data)]
    rec = tmp_path / "inplace.ttrec"
    taken: dict[str, list[bool]] = {"remap_in_place": [], "backs": []}
    for cls, name in ((AddressSpace, "remap_in_place"), (HostMemory, "backs")):
        monkeypatch.setattr(cls, name, _noting(getattr(cls, name), taken[name]))
    recorder = Recorder(argv[0], [a.encode() for a in argv], [], str(rec), snapshot_every=5000)
    result = recorder.run()
    assert result.exit_status == 10
    assert any(taken["backs"])  # a region split in place
    if arch == "x86_64":  # its loader maps each segment of libc over a mapping of the file
        assert sum(taken["remap_in_place"]) >= 2, taken
    assert "fixed over BBBBB" in capfd.readouterr().out
    monkeypatch.setattr(AddressSpace, "remap_in_place", lambda self, *args: False)
    monkeypatch.setattr(
        HostMemory, "map", lambda self, start, length, perms: self._uc.mem_map(start, length, perms)
    )
    replayed = replay(open_recording(str(rec)), verify=True)
    assert replayed.exit_status == 10
    assert replayed.verified > 20


@pytest.mark.parametrize("arch", ARCHES)
def test_cpp_program_with_libstdcxx(arch: str, tmp_path: Path) -> None:
    prog = compile_source(tmp_path, "cpp", CPP_PROGRAM, "-std=c++17", arch=arch, cpp=True)
    out = assert_like_native(arch, [str(prog)], tmp_path / "cpp.ttrec")
    assert b"caught multiple of three: 6" in out


def test_recording_holds_its_libraries(tmp_path: Path) -> None:
    """A program linked against a library in a directory that is gone at replay time."""
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    compile_source(libdir, "libmine.so", LIBRARY, "-shared", "-fPIC")
    prog = compile_source(
        tmp_path, "uses", USES_LIBRARY, f"-L{libdir}", "-lmine", f"-Wl,-rpath,{libdir}"
    )
    native = run_native([str(prog)])
    rec = tmp_path / "uses.ttrec"
    assert record([str(prog)], rec).stdout == native.stdout
    info = json.loads(run_ttdbg(["info", "--json", str(rec)]).stdout)
    stored = {f["path"]: f["size"] for f in info["stored_files"]}
    assert stored[f"{libdir}/libmine.so"] == (libdir / "libmine.so").stat().st_size
    assert any(p.endswith("libc.so.6") for p in stored)
    shutil.rmtree(libdir)
    prog.unlink()
    assert replay_verified(rec, native.returncode) == native.stdout
    text = run_ttdbg(["info", str(rec)]).stdout.decode()
    assert f"{libdir}/libmine.so" in text


def test_library_stored_once_and_snapshots_stay_small(tmp_path: Path) -> None:
    """Snapshots keep library pages as references to the stored file, not as copies."""
    prog = compile_source(tmp_path, "prog", C_PROGRAM)
    rec = tmp_path / "many.ttrec"
    proc = run_ttdbg(
        ["record", "--snapshot-every", "5000", "-o", str(rec), "--", str(prog)], timeout=300
    )
    assert proc.returncode == 10, proc.stderr
    info = json.loads(run_ttdbg(["info", "--json", str(rec)]).stdout)
    assert info["snapshots"] > 20
    libc = next(f["size"] for f in info["stored_files"] if f["path"].endswith("libc.so.6"))
    # Every snapshot together costs less than one more copy of libc would.
    assert info["snapshot_bytes_compressed"] < libc // 2, info
    assert replay_verified(rec, proc.returncode) == proc.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_dlopen_ld_library_path_and_ld_preload(arch: str, tmp_path: Path) -> None:
    """A plugin found through LD_LIBRARY_PATH and loaded with dlopen, its constructor's puts
    taken by an LD_PRELOAD library: as natively (qemu-user with -L for AArch64/RISC-V)."""
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    compile_source(plugdir, "libplug.so", PLUGIN, "-shared", "-fPIC", arch=arch)
    compile_source(tmp_path, "libpre.so", PRELOAD, "-shared", "-fPIC", arch=arch)
    loader = compile_source(tmp_path, "loader", DLOPENS, arch=arch)
    if arch == "x86_64":  # each on its own once; together on every architecture
        out = assert_like_native(
            arch,
            [str(loader), "libplug.so"],
            tmp_path / "dl.ttrec",
            {"LD_LIBRARY_PATH": str(plugdir)},
        )
        assert out == b"plugin constructor ran\nloaded the plugin\n"
    out = assert_like_native(
        arch,
        [str(loader), "libplug.so"],
        tmp_path / "pre.ttrec",
        {"LD_LIBRARY_PATH": str(plugdir), "LD_PRELOAD": str(tmp_path / "libpre.so")},
    )
    assert out.startswith(b"[preloaded] plugin constructor ran\n")


@pytest.mark.parametrize("arch", ARCHES)
def test_missing_library_gives_the_loaders_message(arch: str, tmp_path: Path) -> None:
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    compile_source(libdir, "libmine.so", LIBRARY, "-shared", "-fPIC", arch=arch)
    prog = compile_source(tmp_path, "uses", USES_LIBRARY, f"-L{libdir}", "-lmine", arch=arch)
    native = run_native(native_argv(arch, [str(prog)]))
    assert b"libmine.so" in native.stderr
    recorded = record([str(prog)], tmp_path / "miss.ttrec")
    assert recorded.returncode == native.returncode == 127
    assert native.stderr in recorded.stderr


def test_missing_loader_is_one_line_error(tmp_path: Path) -> None:
    prog = compile_source(tmp_path, "odd", C_PROGRAM, "-Wl,--dynamic-linker=/nonexistent/ld.so")
    proc = run_ttdbg(["record", "-o", str(tmp_path / "x.ttrec"), "--", str(prog)])
    err = proc.stderr.decode()
    assert proc.returncode == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "/nonexistent/ld.so" in err
    assert "missing" in err
    assert not (tmp_path / "x.ttrec").exists()


def test_distribution_tool_runs_like_native(tmp_path: Path) -> None:
    """The host's own dynamic programs as a user tries them first, reading a file."""
    argv = ["sort", "-n", "-r"]
    tool = shutil.which(argv[0]) or missing(f"{argv[0]} is not installed")
    data = tmp_path / "numbers.txt"
    data.write_text("".join(f"{(k * 7919) % 1000}\n" for k in range(3000)))
    out = assert_like_native("x86_64", [tool, *argv[1:], str(data)], tmp_path / "tool.ttrec")
    assert len(out) > 1000


def test_ls_long_listing_runs_like_native(tmp_path: Path) -> None:
    """`ls -la` asks for every file's extended attributes (ACLs, SELinux labels); it printed
    "Function not implemented" for its directory when ttdbg answered ENOSYS."""
    tool = shutil.which("ls") or missing("ls is not installed")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("hello\n")
    (tree / "link").symlink_to("a.txt")
    for path in (tree, tree / "sub", tree / "a.txt", tree / "link"):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    argv = [tool, "-la", "--time-style=+%s", str(tree)]
    recordings = tmp_path / "recordings"  # made before: the listing shows its parent's mtime
    recordings.mkdir()
    native = run_native(argv, timeout=60)
    recorded = record(argv, recordings / "ls.ttrec")
    assert (recorded.stdout, recorded.stderr) == (native.stdout, native.stderr)
    assert recorded.returncode == native.returncode == 0
    assert b"a.txt -> " not in native.stdout  # the listing is the long one, links shown
    assert b"link -> a.txt" in native.stdout


def test_find_and_du_walk_the_emulated_proc_self(tmp_path: Path) -> None:
    """Every emulated /proc/self entry had inode 1: find and du took fd/ for the directory
    itself ("File system loop detected") and exited 1; natively they exit 0."""
    outputs = {}
    for tool, args in (("find", ["/proc/self", "-maxdepth", "2"]), ("du", ["-s", "/proc/self"])):
        path = shutil.which(tool) or missing(f"{tool} is not installed")
        assert run_native([path, *args], timeout=60).returncode == 0
        recorded = record([path, *args], tmp_path / f"{tool}.ttrec")
        assert (recorded.returncode, recorded.stderr) == (0, b""), recorded.stderr
        outputs[tool] = recorded.stdout
    assert b"/proc/self/fd/0\n" in outputs["find"]


def test_df_and_the_mount_tables_read_like_native(tmp_path: Path) -> None:
    """df reads /proc/self/mountinfo (refused before, "cannot read table of mounted file
    systems"); it and /proc/mounts are the recorder's, logged: the listing, the tables and the
    replay equal the native ones (the columns that change with disk use are left out)."""
    df = shutil.which("df") or missing("df is not installed")
    cat = shutil.which("cat") or missing("cat is not installed")
    runs = {
        "df": [df, "--output=source,fstype,size,target"],
        "dfp": [df, "-P", "/"],
        "tables": [cat, "/proc/self/mountinfo", "/proc/self/mounts", "/proc/mounts"],
    }
    for name, argv in runs.items():
        native = run_native(argv, timeout=60)
        recorded = record(argv, tmp_path / f"{name}.ttrec")
        assert recorded.returncode == native.returncode == 0, recorded.stderr
        assert recorded.stderr == b""
        if name == "dfp":  # the numbers move with other processes' writes
            assert recorded.stdout.splitlines()[0] == native.stdout.splitlines()[0]
            assert recorded.stdout.split()[-1] == native.stdout.split()[-1] == b"/"
        else:
            assert recorded.stdout == native.stdout
        assert replay_verified(tmp_path / f"{name}.ttrec") == recorded.stdout
    assert b" / " in native.stdout  # the tables list the root mount


def test_stat_shows_what_statx_gives_natively(tmp_path: Path) -> None:
    """GNU stat asks statx for the birth time (and the mount id, attributes): the struct is
    the host kernel's, not one rebuilt from the basic fields (which said "Birth: -")."""
    tool = shutil.which("stat") or missing("stat is not installed")
    target = tmp_path / "file.txt"
    target.write_text("some bytes\n")
    recordings = tmp_path / "recordings"  # made first: the directory's times are shown
    recordings.mkdir()
    argv = [tool, "-c", "%n %s %f %h %i %W %X %Y %Z %u %g", str(target), str(tmp_path)]
    native = run_native(argv, timeout=60)
    assert native.stdout.split()[5] != b"0", "this file system keeps no birth time"
    recorded = record(argv, recordings / "stat.ttrec")
    assert (recorded.stdout, recorded.stderr) == (native.stdout, native.stderr)
    assert replay_verified(recordings / "stat.ttrec", 0) == native.stdout


def test_cat_of_proc_self_status_shows_the_guest(tmp_path: Path) -> None:
    """`cat /proc/self/status` (GNU cat advises the kernel on its input with fadvise) reads
    the recorded process's own status, emulated; fadvise on it crashed the recorder."""
    tool = shutil.which("cat") or missing("cat is not installed")
    recorded = record([tool, "/proc/self/status"], tmp_path / "cat.ttrec")
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stderr == b""
    fields = dict(line.split(":\t", 1) for line in recorded.stdout.decode().splitlines())
    assert fields["Name"] == "cat"
    assert fields["Threads"] == "1"
    assert replay_verified(tmp_path / "cat.ttrec", 0) == recorded.stdout


PYTHON_SCRIPT = """
import json, hashlib, re, decimal, math
decimal.getcontext().prec = 40
primes = [n for n in range(2, 400) if all(n % k for k in range(2, math.isqrt(n) + 1))]
print(json.dumps({
    "sha": hashlib.sha256(b"ttdbg").hexdigest(),
    "md5": hashlib.md5(b"time travel").hexdigest(),
    "words": re.findall(r"[a-z]+", "Time travel, debugging!"),
    "e": str(decimal.Decimal(1).exp()),
    "primes": len(primes), "last": primes[-3:],
}, sort_keys=True))
"""


def _host_python3_like_native(script: str, rec: Path) -> bytes:
    """The host's python3 running `script`, recorded at `rec`: its output, checked equal to
    the native run's."""
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        missing("/usr/bin/python3 is not installed")
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    return assert_like_native("x86_64", [python, "-c", script], rec, env)


@pytest.mark.slow
def test_host_python3_runs_like_native(tmp_path: Path) -> None:
    """The host's python3: hundreds of files read, extension modules loaded with dlopen."""
    out = _host_python3_like_native(PYTHON_SCRIPT, tmp_path / "py.ttrec")
    assert json.loads(out)["primes"] == 78
    info = json.loads(run_ttdbg(["info", "--json", str(tmp_path / "py.ttrec")]).stdout)
    stored = [f["path"] for f in info["stored_files"]]
    assert any("_hashlib" in p for p in stored)
    assert any("_decimal" in p for p in stored)


ASYNCIO_SCRIPT = r"""
import asyncio, os, signal, socket, hashlib
def work(n):
    return hashlib.sha256(str(n).encode()).hexdigest()[:8]
async def main():
    loop = asyncio.get_running_loop()
    got = []
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.append("usr1"))
    os.kill(os.getpid(), signal.SIGUSR1)
    res = await asyncio.gather(*[loop.run_in_executor(None, work, i) for i in range(6)])
    q = asyncio.Queue()
    async def prod():
        for i in range(5):
            await q.put(i); await asyncio.sleep(0)
        await q.put(None)
    async def cons():
        s = 0
        while (x := await q.get()) is not None: s += x
        return s
    _, total = await asyncio.gather(prod(), cons())
    a, b = socket.socketpair()
    r, w = await asyncio.open_connection(sock=a)
    b.sendall(b"line one\nline two\n"); b.shutdown(socket.SHUT_WR)
    lines = [await r.readline(), await r.readline(), await r.read()]
    names = (a.getsockname(), b.getpeername())
    w.close()
    await asyncio.sleep(0.01)
    print(res, total, got, lines, names)
asyncio.run(main())
"""


@pytest.mark.slow
def test_host_python3_asyncio_runs_like_native(tmp_path: Path) -> None:
    """asyncio's event loop wakes itself through a socket pair (socketpair, FIONBIO, epoll,
    send/recv): executor threads, a signal handler, a queue and a stream over a socket pair.
    It ended in AttributeError '_ssock' when socketpair was ENOSYS."""
    out = _host_python3_like_native(ASYNCIO_SCRIPT, tmp_path / "aio.ttrec")
    assert b"['usr1'] [b'line one\\n', b'line two\\n', b''] ('', '')" in out


RECVFROM_SCRIPT = r"""
import socket, threading, time
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
t = threading.Thread(target=lambda: (time.sleep(0.05), a.send(b"ping")))
t.start()
print(b.recvfrom(64))
t.join()
"""


@pytest.mark.slow
def test_recvfrom_waiting_for_another_thread_parks_its_thread(tmp_path: Path) -> None:
    """recvfrom with the sender's address, waiting for a datagram the program's own other
    thread sends: it parks its thread as recv and read do (it blocked the recorder, and so
    the sender, for ever)."""
    out = _host_python3_like_native(RECVFROM_SCRIPT, tmp_path / "rf.ttrec")
    assert b"(b'ping'," in out


NETWORK_SCRIPT = r"""
import asyncio, socket, threading
srv = socket.create_server(("localhost", 0))
port = srv.getsockname()[1]
def serve():
    conn, _ = srv.accept()
    with conn:
        while data := conn.recv(100):
            conn.sendall(data.upper())
t = threading.Thread(target=serve)
t.start()
with socket.create_connection(("localhost", port), timeout=30) as c:
    for word in (b"alpha", b"beta", b"gamma"):
        c.sendall(word)
        got = b""
        while len(got) < len(word):
            got += c.recv(100)
        print(got)
t.join()
srv.close()
u, v = (socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in "uv")
u.bind(("::1", 0)); v.bind(("::1", 0))
u.sendto(b"over ipv6", v.getsockname())
data, addr = v.recvfrom(64)
print(data, addr[1] == u.getsockname()[1])
async def main():
    async def handle(r, w):
        while line := await r.readline():
            w.write(b"> " + line)
            await w.drain()
        w.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    for i in range(3):
        w.write(b"line %d\n" % i)
        print(await r.readline())
    w.close()
    await w.wait_closed()
    server.close()
    await server.wait_closed()
asyncio.run(main())
"""


@pytest.mark.slow
def test_host_python3_network_runs_like_native(tmp_path: Path) -> None:
    """python3's socket module over real sockets: a TCP server thread and its client by the
    name localhost (getaddrinfo), IPv6 datagrams, an asyncio stream server and client."""
    out = _host_python3_like_native(NETWORK_SCRIPT, tmp_path / "net.ttrec")
    assert out.splitlines() == [
        b"b'ALPHA'",
        b"b'BETA'",
        b"b'GAMMA'",
        b"b'over ipv6' True",
        *(b"b'> line %d\\n'" % i for i in range(3)),
    ]


@pytest.mark.parametrize("arch", ["aarch64", "riscv64"])
def test_foreign_loader_missing_names_where_it_looked(arch: str, tmp_path: Path) -> None:
    prog = compile_source(tmp_path, "prog", C_PROGRAM, arch=arch)
    empty = tmp_path / "empty-root"
    empty.mkdir()
    out = tmp_path / "x.ttrec"
    proc = run_ttdbg(["record", "--sysroot", str(empty), "-o", str(out), "--", str(prog)])
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    interp = (
        "/lib/ld-linux-aarch64.so.1" if arch == "aarch64" else "/lib/ld-linux-riscv64-lp64d.so.1"
    )
    assert f"looked in {empty}{interp}, {interp}" in err
    assert not out.exists()
    bad = run_ttdbg(["record", "--sysroot", str(tmp_path / "nowhere"), "--", str(prog)])
    assert bad.returncode == 2
    assert b"no such directory" in bad.stderr
    # An explicit sysroot works like qemu-user's -L.
    native = run_native(native_argv(arch, [str(prog), "sysroot"]))
    ok = tmp_path / "ok.ttrec"
    rec = run_ttdbg(
        ["record", "--sysroot", SYSROOTS[arch], "-o", str(ok), "--", str(prog), "sysroot"]
    )
    assert rec.stdout == native.stdout
    assert replay_verified(ok, native.returncode) == native.stdout


@pytest.mark.parametrize(("arch", "package"), [("aarch64", "libc6-arm64-cross"),
                                               ("riscv64", "libc6-riscv64-cross")])  # fmt: skip
def test_foreign_loader_without_the_debian_sysroot_names_it(
    arch: str, package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Without --sysroot and without Debian's cross C library, the error names the place
    ttdbg looked in by default and the package that would put the loader there."""
    from ttdbg import cli
    from ttdbg.backend import recorder

    prog = compile_source(tmp_path, "prog", C_PROGRAM, arch=arch)
    absent = tmp_path / f"usr/{arch}-linux-gnu"  # as on a host without the package
    monkeypatch.setitem(recorder.CROSS_SYSROOTS, arch, (str(absent), package))
    out = tmp_path / "x.ttrec"
    assert cli.main(["record", "-o", str(out), "--", str(prog)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    interp = (
        "/lib/ld-linux-aarch64.so.1" if arch == "aarch64" else "/lib/ld-linux-riscv64-lp64d.so.1"
    )
    assert f"looked in {absent}{interp}, {interp}" in err, err
    assert f"install Debian's {package} or pass --sysroot DIR" in err, err
    assert not out.exists()


def _rewritten(src: Path, dst: Path, change: Callable[[bytes], bytes]) -> None:
    """Copy a recording frame by frame (valid checksums), changing the first FILE frame
    that carries content."""
    frames, _ = read_frames(str(src))
    writer = RecordingWriter(str(dst))
    changed = False
    for frame in frames:
        payload = frame.payload
        if frame.type == FrameType.FILE and not changed and len(payload) > 100:
            payload, changed = change(payload), True
        if frame.type != FrameType.INDEX:
            writer.write(frame.type, payload)
    writer.close()
    assert changed


def test_stored_files_are_checked_when_read(tmp_path: Path) -> None:
    prog = compile_source(tmp_path, "prog", C_PROGRAM)
    rec = tmp_path / "good.ttrec"
    assert record([str(prog)], rec).returncode == 10
    for name, change, needle in (
        ("digest", lambda p: bytes([p[0] ^ 1]) + p[1:], "does not match its digest"),
        ("cut", lambda p: p[:-40], "corrupt file frame"),
        ("short", lambda p: p[:20], "corrupt file frame"),
    ):
        bad = tmp_path / f"{name}.ttrec"
        _rewritten(rec, bad, change)
        for command in (["replay", str(bad)], ["info", str(bad)]):
            proc = run_ttdbg(command)
            err = proc.stderr.decode()
            assert proc.returncode == 2, (name, err)
            assert "Traceback" not in err
            assert len(err.strip().splitlines()) == 1, err
            assert needle in err, (name, err)


def test_files_read_are_stored_once_and_replay_without_them(tmp_path: Path) -> None:
    """A file read three times and mapped is stored once (not copied into the event log per
    read); a file rewritten through a descriptor open for writing is logged as read."""
    prog = compile_source(tmp_path, "reads", READS_FILES)
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(200_000))  # incompressible: a copy per read would show
    scratch = tmp_path / "scratch.txt"
    native = run_native([str(prog), str(data), str(scratch)])
    assert native.returncode == 0
    rec = tmp_path / "reads.ttrec"
    assert record([str(prog), str(data), str(scratch)], rec).stdout == native.stdout
    info = json.loads(run_ttdbg(["info", "--json", str(rec)]).stdout)
    stored = {f["path"]: f["size"] for f in info["stored_files"]}
    assert stored[str(data)] == 200_000
    assert str(scratch) not in stored
    lines = [len(line) for line in scratch.read_bytes().splitlines(keepends=True)]
    assert info["inline_reads"] == {str(scratch): sum(sum(lines[: k + 1]) for k in range(3))}
    # One copy of the data file in all: the three reads and the mapping refer to it.
    assert info["event_bytes_compressed"] < 20_000, info
    bodies = [f for f in read_frames(str(rec))[0] if f.type == FrameType.FILE]
    copies = [f for f in bodies if str(data).encode() in f.payload[:400] and len(f.payload) > 400]
    assert len(copies) == 1
    assert info["stored_contents"] == len(stored)  # no two stored paths share a content here
    text = run_ttdbg(["info", str(rec)]).stdout.decode()
    assert f"       200,000  {data}" in text
    data.unlink()
    scratch.unlink()
    assert replay_verified(rec) == native.stdout


@pytest.mark.parametrize("arch", ARCHES)
def test_dev_zero_sigbus_and_shared_mprotect_like_linux(arch: str, tmp_path: Path) -> None:
    """/dev/zero maps as anonymous memory, an access past a mapped file's end raises SIGBUS,
    and making a shared file mapping writable is refused for a descriptor open for reading
    only, allowed for one open for writing (ttdbg writes such pages back), as on Linux."""
    data = tmp_path / "hundred.txt"
    data.write_bytes(b"x" * 100)
    prog = compile_source(tmp_path, "edges", MAPPING_EDGES, arch=arch)
    argv = [str(prog), str(data)]
    native = run_native(native_argv(arch, argv), timeout=120)
    rec = tmp_path / "edges.ttrec"
    recorded = record(argv, rec)
    native_lines, lines = native.stdout.splitlines(), recorded.stdout.splitlines()
    assert lines == native_lines, recorded.stderr
    assert b"/dev/zero private mapped shared mapped" in lines[0]
    assert b"signal 7, last page: signal 7" in lines[3]
    assert b"after mprotect: signal 7" in lines[4]
    assert lines[5].endswith(b"Permission denied")
    assert lines[-2:] == [
        b"mprotect writable, shared, read-write fd: ok",
        b"pread sees the store: W",
    ]
    assert replay_verified(rec) == recorded.stdout
