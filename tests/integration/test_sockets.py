"""Real sockets: a program's TCP, UDP and Unix exchanges between its own threads, and its
exchange with a server outside, print what they print natively; replay gives the same with
no socket opened (the outside server is gone by then)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import file_tree, missing, require_tool, run_native, run_ttdbg
from tests.guest_programs import build, native_command
from tests.recedit import alter_first_event
from ttdbg.backend.arch import ARCHES
from ttdbg.backend.eventlog import Event, EventKind
from ttdbg.backend.recording import open_recording

ERESTARTSYS = -512


def record(argv: list[str], rec: Path, cwd: Path) -> bytes:
    done = run_ttdbg(["record", "-o", str(rec), "--", *argv], cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def replayed(rec: Path, cwd: Path) -> bytes:
    done = run_ttdbg(["replay", "--verify", str(rec)], cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert b"verified" in done.stderr
    return done.stdout


def parked_calls(rec: Path) -> int:
    """How many host calls parked their thread (logged -ERESTARTSYS) in a recording."""
    events = open_recording(str(rec)).events
    return sum(1 for e in events if e.kind == EventKind.SYSCALL and e.result == ERESTARTSYS)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_echo_between_threads_matches_native(arch: str, tmp_path: Path) -> None:
    program = build("netecho", arch, ["-pthread"])
    dirs = {name: tmp_path / name for name in ("native", "record", "replay")}
    for d in dirs.values():
        d.mkdir()
    native = run_native([*native_command(arch, program), "all", str(dirs["native"])], timeout=60)
    assert native.returncode == 0, native.stdout.decode()
    assert native.stdout.endswith(b"done\n")
    rec = tmp_path / "net.ttrec"
    assert record([str(program), "all", str(dirs["record"])], rec, dirs["record"]) == (
        native.stdout
    )
    assert file_tree(dirs["record"]) == {}  # the Unix socket's file was made, then unlinked
    # The server threads' accept and receives waited while the client thread ran.
    assert parked_calls(rec) > 0
    assert replayed(rec, dirs["replay"]) == native.stdout
    assert file_tree(dirs["replay"]) == {}, "replay must not touch the host"


def test_replay_needs_no_network(tmp_path: Path) -> None:
    """Replayed in a network namespace of its own, where even the loopback interface is
    down (any connect or bind to 127.0.0.1 fails there), the echo program prints what it
    printed when recorded."""
    unshare = require_tool("unshare")
    alone = [unshare, "--user", "--map-root-user", "--net", "--"]
    probe = subprocess.run([*alone, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        missing(f"unshare cannot make a network namespace here: {probe.stderr.decode()}")
    program = build("netecho", "x86_64", ["-pthread"])
    rec = tmp_path / "net.ttrec"
    out = record([str(program), "all", str(tmp_path)], rec, tmp_path)
    assert out.endswith(b"done\n")
    inside = subprocess.run(
        [*alone, sys.executable, "-c", SHOW_NO_LOOPBACK], capture_output=True, timeout=30
    )
    assert inside.stdout == b"Network is unreachable\n", inside.stderr.decode()
    done = subprocess.run(
        [*alone, sys.executable, "-m", "ttdbg", "replay", "--verify", str(rec)],
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == out


# What a connect to the loopback address answers in a network namespace of its own.
SHOW_NO_LOOPBACK = """
import os, socket
try:
    socket.create_connection(("127.0.0.1", 9), timeout=10)
except OSError as err:
    print(os.strerror(err.errno))
"""


class EchoServer:
    """A TCP echo server on 127.0.0.1 (an ephemeral port), one connection at a time."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(60)
        self.port = self.listener.getsockname()[1]
        self.served = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _peer = self.listener.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(60)
                while data := conn.recv(4096):
                    conn.sendall(data)
                conn.sendall(b"bye")
            self.served += 1

    def close(self) -> None:
        # shutdown wakes the accept waiting in the server thread; a close alone would leave
        # the socket listening until that accept returned (it holds the socket meanwhile).
        with contextlib.suppress(OSError):  # closed already
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def test_client_of_an_outside_server_replays_without_it(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    program = build("netecho", "x86_64", ["-pthread"])
    argv = [str(program), "client", str(echo_server.port)]
    native = run_native(argv, timeout=60)
    assert native.returncode == 0, native.stdout.decode()
    assert b"echoed 7: hello 2\n" in native.stdout
    assert b"server's last words: 3\n" in native.stdout
    rec = tmp_path / "client.ttrec"
    assert record(argv, rec, tmp_path) == native.stdout
    assert echo_server.served == 2
    echo_server.close()
    with pytest.raises(ConnectionRefusedError):  # nobody listens on that port now
        socket.create_connection(("127.0.0.1", echo_server.port), timeout=10)
    assert replayed(rec, tmp_path) == native.stdout


def test_busybox_nc_against_an_outside_server_replays_without_it(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    """A program we did not write: busybox's nc sends its input, prints what comes back, and
    ends when the server closes after its input's end."""
    argv = [require_tool("busybox"), "nc", "127.0.0.1", str(echo_server.port)]
    lines = b"first line\nsecond line\n"
    native = run_native(argv, lines, timeout=60)
    assert native.returncode == 0, native.stderr.decode()
    assert native.stdout == lines + b"bye"
    rec = tmp_path / "nc.ttrec"
    done = run_ttdbg(["record", "-o", str(rec), "--", *argv], lines, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == native.stdout
    echo_server.close()
    assert replayed(rec, tmp_path) == native.stdout


def test_calls_that_wait_let_other_threads_run(tmp_path: Path) -> None:
    """The listener's queue is full (backlog 0) until the main thread accepts, so the other
    thread's blocking connect waits for it (natively, for the SYN sent again a second
    later): its thread parks instead of holding the recorder, which would never let the
    main thread run to accept. Then a receive with SO_RCVTIMEO, parked while another thread
    waits in accept, ends with EAGAIN when its time is up (it waited for ever). Then a
    megabyte written to a socket and to a pipe that another thread reads (the write held
    the recorder, and so the reader, for ever)."""
    program = build("netecho", "x86_64", ["-pthread"])
    native = run_native([str(program), "backlog"], timeout=60)
    assert native.stdout.splitlines() == [
        b"second connection accepted, sent [second]",
        b"recv with SO_RCVTIMEO: -1 EAGAIN",
        b"socket: wrote 1048576, read 1048576",
        b"pipe: wrote 1048576, read 1048576",
    ]
    rec = tmp_path / "backlog.ttrec"
    assert record([str(program), "backlog"], rec, tmp_path) == native.stdout
    events = open_recording(str(rec)).events
    connect = ARCHES["x86_64"].syscall_numbers["connect"]
    recvfrom, write = (ARCHES["x86_64"].syscall_numbers[n] for n in ("recvfrom", "write"))
    parked = {e.args[0] for e in events if e.kind == EventKind.SYSCALL and e.result == ERESTARTSYS}
    assert {connect, recvfrom, write} <= parked
    assert replayed(rec, tmp_path) == native.stdout


def test_other_families_and_raw_sockets_are_refused(tmp_path: Path) -> None:
    """Netlink and raw sockets reach kernel state no recording holds: not offered, and the
    program is told so (natively both may succeed)."""
    program = build("netecho", "x86_64", ["-pthread"])
    rec = tmp_path / "families.ttrec"
    out = record([str(program), "families"], rec, tmp_path)
    assert out.splitlines() == [
        b"netlink: -1 Address family not supported by protocol",
        b"raw: -1 Socket type not supported",
    ]
    assert replayed(rec, tmp_path) == out
    info = run_ttdbg(["info", "--json", str(rec)])
    assert json.loads(info.stdout)["unoffered"] == {"socket AF_NETLINK": 1, "socket SOCK_RAW": 1}
    text = run_ttdbg(["info", str(rec)]).stdout.decode()
    assert "\nnot offered: socket AF_NETLINK x1, socket SOCK_RAW x1\n" in text


def test_errnos_options_and_truncations_match_native(tmp_path: Path) -> None:
    """Calls that fail (ECONNREFUSED, EADDRINUSE, EAGAIN, EINVAL, ENOTCONN, EMSGSIZE...),
    options read back, shutdown, SO_RCVTIMEO, MSG_TRUNC into small buffers, names and
    control data cut to the room given, poll, select and epoll on sockets: the recorded and
    the replayed run print what the native run does."""
    program = build("sockerrno", "x86_64")
    native = run_native([str(program)], timeout=60)
    assert native.returncode == 0, native.stdout.decode()
    assert b"connect to a closed port: -1 ECONNREFUSED\n" in native.stdout
    assert b"recvmsg 1025 iovecs: -1 EMSGSIZE\n" in native.stdout
    assert native.stdout.endswith(b"done\n")
    rec = tmp_path / "errnos.ttrec"
    assert record([str(program)], rec, tmp_path) == native.stdout
    assert replayed(rec, tmp_path) == native.stdout


def test_waits_in_a_thread_while_another_computes(tmp_path: Path) -> None:
    """A thread waits in accept, poll, recv, recvmsg, recvfrom and epoll_wait while the main
    thread computes without a system call before giving what it waits for: the waits park
    their thread instead of holding the recorder (which would never run the main thread)."""
    program = build("sockerrno", "x86_64", ["-pthread"])
    native = run_native([str(program), "threads"], timeout=60)
    assert native.returncode == 0, native.stdout.decode()
    assert native.stdout.endswith(b"waiter: received 16 more\nmain: computed 1\n")
    rec = tmp_path / "threads.ttrec"
    assert record([str(program), "threads"], rec, tmp_path) == native.stdout
    assert parked_calls(rec) >= 3
    assert replayed(rec, tmp_path) == native.stdout


# Replay with every way to a host socket closed: the C library handles of host.py and
# hostsockets.py raise, and an audit hook notes any socket the Python layer would make.
NO_SOCKETS = """
import json, runpy, sys
seen = []
sys.addaudithook(lambda event, args: seen.append(event) if event.startswith("socket.") else None)
from ttdbg.backend.linux import host, hostsockets

class Closed:
    def __getattr__(self, name):
        seen.append("libc." + name)
        raise OSError("no host C library in replay: " + name)

host._libc = hostsockets._libc = Closed()
sys.argv = ["ttdbg", "replay", "--verify", sys.argv[1]]
try:
    runpy.run_module("ttdbg", run_name="__main__")
finally:
    print("TOUCHED " + json.dumps(seen), file=sys.stderr)
"""


@pytest.mark.parametrize("mode", ["errnos", "threads"])
def test_replay_touches_no_host_socket(mode: str, tmp_path: Path) -> None:
    program = build("sockerrno", "x86_64", ["-pthread"])
    argv = [str(program)] + (["threads"] if mode == "threads" else [])
    rec = tmp_path / "net.ttrec"
    out = record(argv, rec, tmp_path)
    assert out.endswith(b"done\n" if mode == "errnos" else b"computed 1\n")
    proc = subprocess.run(
        [sys.executable, "-c", NO_SOCKETS, str(rec)], capture_output=True, timeout=300
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "verified" in err
    assert err.splitlines()[-1] == "TOUCHED []", err
    assert proc.stdout == out


def _altered(rec: Path, dest: Path, name: str, change: Callable[[Event], Event | None]) -> int:
    """`rec` with the first logged answer to syscall `name` that `change` alters (it returns
    None for the others) replaced: the icount of that call."""
    number = ARCHES["x86_64"].syscall_numbers[name]
    icount = alter_first_event(
        rec,
        dest,
        lambda ev: (
            change(ev)
            if ev.kind == EventKind.SYSCALL and ev.args[0] == number and ev.result >= 0
            else None
        ),
    )
    assert icount >= 0, f"the recording has no answer to {name} to alter"
    return icount


def _grown(ev: Event, extra: int = 256, front: bool = False) -> Event:
    more = b"\xee" * extra
    payload = more + ev.payload if front else ev.payload + more
    return Event(ev.kind, ev.icount, ev.args, ev.result, payload)


# Answers longer than the buffers the guest gave (a receive's bytes, a sender's address,
# control data, an option's value, a socket name): altered, they must stop the replay.
ALTERATIONS: dict[str, tuple[str, Callable[[Event], Event | None]]] = {
    "recv": ("recvfrom", lambda ev: _grown(ev) if ev.args[5] == 0 and ev.payload else None),
    "recvfrom with address": ("recvfrom", lambda ev: _grown(ev) if ev.args[5] else None),
    "recvfrom address length": (
        "recvfrom",
        lambda ev: (
            Event(ev.kind, ev.icount, ev.args, ev.result, b"\xff\xff\x00\x00" + ev.payload[4:])
            if ev.args[5]
            else None
        ),
    ),
    "recvmsg bytes": ("recvmsg", _grown),
    "recvmsg control": (
        "recvmsg",
        lambda ev: Event(
            ev.kind,
            ev.icount,
            ev.args,
            ev.result,
            ev.payload[:8] + struct.pack("<I", 4000) + ev.payload[12:] + bytes(4000),
        ),
    ),
    "getsockopt": ("getsockopt", lambda ev: _grown(ev, front=True)),
    "getsockname": ("getsockname", _grown),
    "accept": ("accept", lambda ev: _grown(ev) if ev.payload else None),
    "ioctl FIONREAD": ("ioctl", lambda ev: _grown(ev) if ev.args[2] == 0x541B else None),
}


@pytest.mark.parametrize("case", sorted(ALTERATIONS))
def test_an_altered_socket_answer_is_a_divergence(case: str, tmp_path: Path) -> None:
    program = build("sockerrno", "x86_64")
    rec = tmp_path / "errnos.ttrec"
    out = record([str(program)], rec, tmp_path)
    name, change = ALTERATIONS[case]
    icount = _altered(rec, tmp_path / "altered.ttrec", name, change)
    proc = run_ttdbg(["replay", str(tmp_path / "altered.ttrec")], timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    expected = f"ttdbg: replay diverged at icount {icount}: expected a well-formed recorded"
    assert err.strip().splitlines()[-1].startswith(f"{expected} answer to {name}, found "), err
    assert out.startswith(proc.stdout)
