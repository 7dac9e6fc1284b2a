"""The `ttdbg` command line: record, replay and info."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttdbg.backend.linux.threads import SchedulePolicy

from ttdbg import __version__
from ttdbg.errors import TtdbgError, UsageError
from ttdbg.limits import DEFAULT_MEMORY_LIMIT


def _integer(what: str, minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer (any base Python reads) of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}: {text!r}")
        return value

    return parse


_positive = _integer("a number", 1)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    """An argparse type: a size in bytes, with an optional K, M, G or T (powers of 1024)."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)(?:I?B)?", text.strip().upper())
    value = int(float(found[1]) * _SIZE_UNITS[found[2]]) if found else 0
    if value < 1 << 20:
        raise argparse.ArgumentTypeError(f"not a size of at least 1M: {text!r}")
    return value


_icount = _integer("an icount", 0)
_non_negative = _integer("a number", 0)


def _find_program(name: str) -> str:
    if os.sep in name:
        path = name
    else:
        found = shutil.which(name)
        if found is None:
            raise UsageError(f"{name}: command not found")
        path = found
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory")
    return path


def _sysroot(path: str | None) -> str | None:
    if path is not None and not os.path.isdir(path):
        raise UsageError(f"--sysroot {path}: no such directory")
    return path


def startup_environment() -> dict[bytes, bytes]:
    """The environment ttdbg was started with, in its order: /proc/self/environ keeps it as
    exec passed it, before Python's locale coercion added LC_CTYPE to os.environ."""
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return dict(os.environb)
    pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if b"=" in entry)
    return {name: value for name, _eq, value in pairs}


def guest_environment(
    environ: Mapping[bytes, bytes], allow: list[str], deny: list[str], empty: bool
) -> list[bytes]:
    """The environment a recording stores and the guest sees: none with `empty` (as env -i),
    else the variables whose names match an `allow` pattern (all without one) and no `deny`
    pattern (fnmatch patterns, case-sensitive)."""
    if empty:
        return []
    kept = []
    for name, value in environ.items():
        text = os.fsdecode(name)
        if allow and not any(fnmatch.fnmatchcase(text, p) for p in allow):
            continue
        if any(fnmatch.fnmatchcase(text, p) for p in deny):
            continue
        kept.append(name + b"=" + value)
    return kept


def cmd_record(args: argparse.Namespace) -> int:
    from ttdbg.backend.linux.script import resolve as resolve_script
    from ttdbg.backend.recorder import Recorder

    command = args.command
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("record: no program given (ttdbg record [-o FILE] -- PROGRAM [ARGS...])")
    program = _find_program(command[0])
    out = args.output or os.path.basename(program) + ".ttrec"
    if args.machine is not None:
        return _record_firmware(args, program, command[1:], out)
    if args.cpu is not None or args.icount_shift is not None:
        raise UsageError("record: --cpu and --icount-shift go with --machine")
    script = resolve_script(program, [os.fsencode(a) for a in command])
    program, argv = script.program, script.argv
    env = guest_environment(startup_environment(), args.env_allow, args.env_deny, args.empty_env)
    schedule = _schedule(args)
    try:
        recorder = Recorder(
            program, argv, env, out, args.snapshot_every, args.max_insns,
            _sysroot(args.sysroot), max_memory=args.max_memory, schedule=schedule,
            execfn=script.execfn,
        )  # fmt: skip
    except OSError as err:
        where = err.filename if err.filename else out
        raise UsageError(f"{where}: cannot open ({err.strerror})") from None
    progress = None
    if sys.stderr.isatty():
        from ttdbg.recordprogress import RecordingProgress

        progress = recorder.host.terminal = RecordingProgress()
    try:
        result = recorder.run(progress.update if progress is not None else None)
    except OSError as err:
        # The frames written so far stay readable: the file is a truncated recording.
        raise UsageError(f"{out}: writing the recording failed ({err.strerror})") from None
    finally:
        if progress is not None:
            progress.hide()
    if result.reason not in ("exit", "limit"):
        print(f"ttdbg: {result.reason}; recording saved up to there in {out}", file=sys.stderr)
        return 1
    return result.shell_status


def _record_firmware(args: argparse.Namespace, program: str, extra: list[str], out: str) -> int:
    """`record --machine NAME`: firmware from reset, stdin as its serial console."""
    from ttdbg.backend.loader import parse_program
    from ttdbg.backend.machines import machine_spec
    from ttdbg.backend.machines.recorder import FirmwareRecorder

    if extra:
        raise UsageError("record --machine: firmware takes no arguments")
    try:
        with open(program, "rb") as f:
            arch = parse_program(f.read(), program).arch.name
    except OSError as err:
        raise UsageError(f"{program}: cannot open ({err.strerror})") from None
    spec = machine_spec(args.machine, arch, args.cpu, args.icount_shift)
    print(
        f"ttdbg: machine {spec.name} ({arch}, cpu {spec.cpu}), icount shift {spec.icount_shift}"
        f" ({1 << spec.icount_shift} ns per instruction)",
        file=sys.stderr,
    )
    try:
        recorder = FirmwareRecorder(
            program, spec, out, sys.stdin.fileno(), snapshot_every=args.snapshot_every,
            max_insns=args.max_insns,
            max_memory=args.max_memory,
        )  # fmt: skip
    except OSError as err:
        where = err.filename if err.filename else out
        raise UsageError(f"{where}: cannot open ({err.strerror})") from None
    try:
        result = recorder.run()
    except OSError as err:
        raise UsageError(f"{out}: writing the recording failed ({err.strerror})") from None
    if result.reason not in ("exit", "limit"):
        print(f"ttdbg: {result.reason}; recording saved up to there in {out}", file=sys.stderr)
        return 1
    return result.shell_status


DEFAULT_FIRMWARE_SNAPSHOT_EVERY = 1_000_000


def _schedule(args: argparse.Namespace) -> SchedulePolicy:
    """The thread schedule asked for: a fixed quantum, or chaos with a seed (printed, so the
    same schedule can be asked for again; the recording replays it either way)."""
    from ttdbg.backend.linux.threads import DEFAULT_QUANTUM, SchedulePolicy

    if args.seed is not None and not args.chaos:
        raise UsageError("record: --seed goes with --chaos")
    if not args.chaos:
        return SchedulePolicy(quantum=args.quantum or DEFAULT_QUANTUM)
    if args.quantum is not None:
        raise UsageError("record: --chaos draws its own quanta; leave out --quantum")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"ttdbg: chaos schedule, seed {seed}", file=sys.stderr)
    return SchedulePolicy(chaos_seed=seed)


def cmd_replay(args: argparse.Namespace) -> int:
    from ttdbg.backend.recording import open_recording
    from ttdbg.backend.replayer import replay

    rec = open_recording(args.file)
    streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}

    def console(fd: int, data: bytes) -> None:
        streams[fd].write(data)
        streams[fd].flush()

    result = replay(rec, to=args.to, verify=args.verify, console=console)
    if args.verify:
        print(f"ttdbg: verified {result.verified} snapshots", file=sys.stderr)
    if result.reason == "truncated":
        print(f"ttdbg: recording is truncated; replayed to icount {result.icount}", file=sys.stderr)
    elif result.reason == "to":
        print(f"ttdbg: stopped at icount {result.icount}", file=sys.stderr)
    elif result.reason == "end" and (fault := rec.guest_fault()) is not None:
        pc, _signal, detail = fault
        detail = printable(detail)
        print(
            f"ttdbg: guest fault at pc {pc:#x} (icount {result.icount}): {detail}", file=sys.stderr
        )
        return 1  # as `record` returned
    elif result.reason == "end" and rec.end is not None and rec.end["reason"] != "exit":
        # The recording stopped before the program did (--max-insns, --max-memory, ...).
        why = printable(rec.end["reason"])
        print(f"ttdbg: recording ends at icount {result.icount}: {why}", file=sys.stderr)
    elif result.reason not in ("exit", "end"):
        print(f"ttdbg: recording ends at icount {result.icount}: {result.reason}", file=sys.stderr)
    return result.shell_status  # the program's own, as `record` returned it


def recording_info(path: str) -> dict[str, Any]:
    """Everything `ttdbg info` shows, as plain data."""
    from ttdbg.backend.recording import open_recording

    rec = open_recording(path)
    rec.snapshots.check_all()  # a damaged snapshot is reported now, not when restored later
    by_kind: dict[str, int] = {}
    for ev in rec.events:
        by_kind[ev.kind.name] = by_kind.get(ev.kind.name, 0) + 1
    end = rec.end or {}
    exit_status, exit_signal = rec.exit_outcome()
    return {
        "file": path,
        "program": rec.header.get("program"),
        "argv": rec.header.get("argv"),
        "arch": rec.header.get("arch"),
        "platform": rec.header.get("platform"),
        "recorded_at": rec.header.get("recorded_at"),
        "icount": rec.last_known_icount,
        "end_reason": end.get("reason", "truncated"),
        "exit_status": exit_status,
        "exit_signal": exit_signal,
        "events": len(rec.events),
        "events_by_kind": by_kind,
        "enosys": end.get("enosys", {}),
        "unoffered": end.get("unoffered", {}),
        "snapshots": len(rec.snapshots),
        "snapshot_every": rec.header.get("snapshot_every"),
        "snapshot_bytes_raw": end.get("snapshot_bytes_raw"),
        "snapshot_bytes_compressed": rec.compressed_bytes["snapshots"],
        "event_bytes_compressed": rec.compressed_bytes["events"],
        "program_bytes": rec.compressed_bytes["program"],
        "stored_files": [{"path": f.path, "size": f.size} for f in rec.files.listing()],
        "stored_contents": rec.files.contents,
        "stored_content_bytes": rec.files.total_size,
        # Bytes read from files whose content is not stored (opened for writing, not regular
        # files, too large): they are in the event log as read.
        "inline_reads": end.get("inline_reads"),
        # A shared file mapping's stores that could not be written back to its file.
        "write_back_error": end.get("write_back_error"),
        "stored_file_bytes_compressed": rec.compressed_bytes["files"],
        "env": rec.header["env"],
        # Files the program opened on the host while recording: what it read from them is in
        # the event log. A truncated recording (no END frame) does not say.
        "opened_files": end.get("opened_files"),
        "file_bytes": rec.file_size,
        "truncated": rec.truncated,
        "machine": (
            None
            if rec.header.get("platform") != "firmware"
            else {k: rec.header.get(k) for k in ("machine", "cpu", "icount_shift")}
        ),
    }


def printable(text: str) -> str:
    """`text` with control characters (terminal escapes) and undecodable bytes shown as
    escapes: strings in a recording come from whoever made it."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def cmd_info(args: argparse.Namespace) -> int:
    info = recording_info(args.file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    status = (
        f"killed by signal {info['exit_signal']}"
        if info["exit_signal"]
        else f"exited with status {info['exit_status']}"
        if info["exit_status"] is not None
        else f"did not exit ({info['end_reason']})"
    )
    kinds = ", ".join(f"{k.lower()} {v}" for k, v in sorted(info["events_by_kind"].items()))
    enosys = ", ".join(f"{k} x{v}" for k, v in sorted(info["enosys"].items())) or "none"
    raw = info["snapshot_bytes_raw"]
    lines = [
        f"file:        {info['file']}" + ("  (TRUNCATED)" if info["truncated"] else ""),
        f"program:     {info['program']}  ({info['arch']}, {info['platform']})",
        f"argv:        {' '.join(info['argv'] or [])}",
        f"recorded:    {info['recorded_at']}",
        f"icount:      {info['icount']:,}" + ("+ (truncated)" if info["truncated"] else ""),
        f"end:         {status}",
        f"events:      {info['events']} ({kinds})",
        f"ENOSYS:      {enosys}",
        f"snapshots:   {info['snapshots']} every {info['snapshot_every']:,} instructions, "
        f"{info['snapshot_bytes_compressed']:,} bytes compressed"
        + (f" from {raw:,} raw" if raw else ""),
        f"size:        {info['file_bytes']:,} bytes (program {info['program_bytes']:,}, "
        f"events {info['event_bytes_compressed']:,}, "
        f"files {info['stored_file_bytes_compressed']:,})",
    ]
    if info["stored_files"]:
        lines.append(
            f"files:       {len(info['stored_files'])} stored (mapped or read by the program): "
            f"{info['stored_contents']} distinct contents, {info['stored_content_bytes']:,} "
            f"bytes, each stored once ({info['stored_file_bytes_compressed']:,} compressed)"
        )
        lines += [f"  {f['size']:>12,}  {f['path']}" for f in info["stored_files"]]
    if info["write_back_error"]:
        lines.append(
            f"write-back:  FAILED ({printable(str(info['write_back_error']))}): stores into a "
            "shared file mapping did not all reach the file"
        )
    if info["inline_reads"]:
        lines.append(
            f"read:        {len(info['inline_reads'])} files not stored whole (open for "
            "writing, not regular, or too large); the bytes read are in the event log"
        )
        lines += [f"  {n:>12,}  {name}" for name, n in sorted(info["inline_reads"].items())]
    if info["unoffered"]:
        refused = ", ".join(f"{k} x{v}" for k, v in sorted(info["unoffered"].items()))
        lines.insert(8, f"not offered: {refused}")
    if info["machine"] is not None:
        # Firmware: no argv, syscalls, host files or environment; the machine instead.
        fw = info["machine"]
        lines[2] = (
            f"machine:     {fw['machine']} (cpu {fw['cpu']}), icount shift {fw['icount_shift']}"
        )
        del lines[7]  # ENOSYS
        print("\n".join(printable(line) for line in lines))
        return 0
    opened = info["opened_files"]
    lines.append(
        "opened:      unknown (the recording is truncated)"
        if opened is None
        else f"opened:      {len(opened)} host files (what the program read from them is stored)"
    )
    lines += [f"  {name}" for name in opened or []]
    lines.append(f"environment: {len(info['env'])} variables (stored in the recording)")
    lines += [f"  {var}" for var in info["env"]]
    print("\n".join(printable(line) for line in lines))
    return 0


def _gdb_server(
    path: str, host: str, port: int, restore: bool = True, seek: bool = True
) -> tuple[Any, Any]:
    """A gdb server on the recording's saved session (position, named states, replay breaks;
    gdb brings its own breakpoints)."""
    from ttdbg.backend.gdb.server import GdbServer
    from ttdbg.backend.gdb.stub import GdbStub
    from ttdbg.session import open_session

    session = open_session(path, with_breakpoints=False, restore=restore, seek=seek)
    _warn_session(session)
    timeline = session.timeline
    rec = timeline.recording
    exec_path = f"/ttdbg/{rec.header.get('program', 'program')}"

    def make_stub() -> GdbStub:
        return GdbStub(timeline, exec_path, rec.program_image)

    try:
        server = GdbServer(make_stub, host, port)
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    return server, session


def _warn_session(session: Any) -> None:
    line = session.problem_line()
    if line is not None:
        print(f"ttdbg: warning: {line}", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from ttdbg.backend.gdb.server import beyond_loopback

    logging.basicConfig(format="ttdbg: %(message)s", stream=sys.stderr)
    if args.log_packets:
        logging.getLogger("ttdbg.gdb.packets").setLevel(logging.DEBUG)
    if args.verbose:
        logging.getLogger("ttdbg").setLevel(logging.DEBUG)
    if beyond_loopback(args.host):
        print(
            f"ttdbg: warning: listening on {args.host}: anyone who can reach this port can "
            "read the recording (memory, files, environment) through gdb",
            file=sys.stderr,
        )
    # gdb must connect at icount 0: connected later in a static glibc program, it finds the
    # program's own _r_debug filled in, takes the program for the dynamic loader and its
    # reverse-next runs back to _start. The session's position is offered as a command.
    server, session = _gdb_server(args.file, args.host, args.port, seek=False)
    host, port = server.address
    print(f"ttdbg: listening on {host}:{port} (gdb: target remote {host}:{port})", flush=True)
    if session.saved_position:
        print(
            f"ttdbg: the session was at icount {session.saved_position}; gdb starts at 0 "
            f"(`monitor seek {session.saved_position}` goes back there)",
            flush=True,
        )
    try:
        server.serve_forever()
    finally:
        server.shutdown()
    return 0


def _find_gdb(arch: str) -> str:
    import platform as host_platform

    names = ["gdb", "gdb-multiarch"] if arch == host_platform.machine() else ["gdb-multiarch"]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError(f"{' or '.join(names)} not found; install it to debug {arch} recordings")


GDB_PROGRAM_NAME = "program"


def _write_private_file(directory: str, name: str, data: bytes) -> str:
    """Create `name` (a fixed name, never one read from a recording) in `directory`.

    O_EXCL and O_NOFOLLOW: the file must be new, and a planted symlink is never followed.
    """
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def cmd_gdb(args: argparse.Namespace) -> int:
    import signal
    import subprocess
    import tempfile
    from importlib import resources

    # gdb connects at icount 0 and then moves to the saved position: connected in the middle
    # of the program, gdb's reverse-next went wrong (it ran back to the start).
    server, session = _gdb_server(
        args.file, "127.0.0.1", 0, restore=not args.no_session, seek=False
    )
    resume = session.saved_position
    moves = ["-ex", f"monitor seek {resume}"] if resume else []
    rec = session.recording
    gdb = _find_gdb(rec.program.arch.name)
    gdb_args = args.gdb_args[1:] if args.gdb_args[:1] == ["--"] else args.gdb_args
    hooks = resources.files("ttdbg.backend.gdb").joinpath("ttdbg.gdb")
    server.start()
    host, port = server.address
    with tempfile.TemporaryDirectory(prefix="ttdbg-") as tmp:
        elf = _write_private_file(tmp, GDB_PROGRAM_NAME, rec.program_image)
        command = [
            gdb, "-q", "-iex", "set remotetimeout 30", "-x", str(hooks),
            "-ex", f"target remote {host}:{port}", *moves, elf, *gdb_args,
        ]  # fmt: skip
        # gdb turns Ctrl-C into an interrupt packet; this process must not die of it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return subprocess.call(command)
        finally:
            signal.signal(signal.SIGINT, previous)
            server.shutdown()
            with contextlib.suppress(OSError):
                session.save()


SAMPLE_RECORDING = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_traces", "walk.ttrec"
)


def cmd_tui(args: argparse.Namespace) -> int:
    from ttdbg.session import open_session
    from ttdbg.tui.app import TtdbgApp

    path = args.file or SAMPLE_RECORDING
    if args.file is None and not os.path.exists(path):
        raise UsageError("no recording given and the sample recording is not installed")
    session = open_session(path, restore=not args.no_session)
    app = TtdbgApp(session, gdb_port=args.gdb_port)
    forget_inherited_terminal_size()
    app.run()
    return 0


def forget_inherited_terminal_size() -> None:
    """On a terminal, the TUI takes its size from the terminal, at start and on each resize.

    Textual asks shutil.get_terminal_size, which prefers COLUMNS and LINES from the
    environment to the terminal's own size. Those are a size from some earlier moment: GNU
    readline exports them in every program that loads it (gdb, the Python REPL, pytest), at
    80x24 when its output is not a terminal. Started from one of those the TUI drew at that
    size inside a bigger window and ignored every resize."""
    if os.isatty(1):  # the descriptor shutil asks for the size
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttdbg", description="Snapshot-centric time-travel debugger on Unicorn."
    )
    parser.add_argument("--version", action="version", version=f"ttdbg {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)

    rec = sub.add_parser("record", help="record a program into a .ttrec file")
    rec.add_argument("-o", "--output", help="recording file (default: PROGRAM.ttrec)")
    rec.add_argument("--snapshot-every", type=_positive, default=None, metavar="N")
    rec.add_argument("--max-insns", type=_positive, default=None, metavar="N")
    rec.add_argument(
        "--max-memory", type=_size, default=DEFAULT_MEMORY_LIMIT, metavar="SIZE",
        help="end the recording when the program uses more memory (default 4G)",
    )  # fmt: skip
    rec.add_argument(
        "--quantum", type=_positive, default=None, metavar="N",
        help="instructions a thread runs before another gets its turn (default 100,000)",
    )  # fmt: skip
    rec.add_argument(
        "--chaos", action="store_true",
        help="vary quanta and thread picks at random to make races show up (seed printed)",
    )  # fmt: skip
    rec.add_argument("--seed", type=_non_negative, default=None, metavar="N",
                     help="the chaos schedule's seed")  # fmt: skip
    rec.add_argument(
        "--sysroot",
        metavar="DIR",
        help="look for the dynamic loader and libraries under DIR first, like qemu-user's -L "
        "(default for AArch64/RISC-V programs: /usr/aarch64-linux-gnu, /usr/riscv64-linux-gnu)",
    )
    rec.add_argument(
        "-i", "--ignore-environment", dest="empty_env", action="store_true",
        help="start the program with an empty environment (as env -i); none is stored",
    )  # fmt: skip
    rec.add_argument(
        "--env-allow", action="append", default=[], metavar="PATTERN",
        help="keep only environment variables whose name matches (fnmatch; repeatable)",
    )  # fmt: skip
    rec.add_argument(
        "--env-deny", action="append", default=[], metavar="PATTERN",
        help="drop environment variables whose name matches (fnmatch; repeatable)",
    )  # fmt: skip
    rec.add_argument(
        "--machine", metavar="NAME",
        help="record firmware on this machine (QEMU's -M name: virt), the ELF loaded as "
        "QEMU's -kernel loads it, stdin as its serial console",
    )  # fmt: skip
    rec.add_argument("--cpu", metavar="CPU", help="the machine's CPU (QEMU's -cpu name)")
    rec.add_argument(
        "--icount-shift", type=_non_negative, default=None, metavar="N",
        help="virtual time: 2^N ns per instruction, as QEMU's -icount shift=N (default 3)",
    )  # fmt: skip
    rec.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM [ARGS...]")
    rec.set_defaults(func=cmd_record)

    rep = sub.add_parser("replay", help="replay a recording, writing the guest's output again")
    rep.add_argument("file")
    rep.add_argument("--to", type=_icount, metavar="ICOUNT", help="stop at this icount")
    rep.add_argument("--verify", action="store_true", help="check every snapshot's hash")
    rep.set_defaults(func=cmd_replay)

    serve = sub.add_parser("serve", help="serve a recording to gdb (target remote HOST:PORT)")
    serve.add_argument("file")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=1234, help="port (0 picks a free one)")
    serve.add_argument("--log-packets", action="store_true", help="log every gdb packet on stderr")
    serve.add_argument(
        "-v", "--verbose", action="store_true", help="log engine and server decisions on stderr"
    )
    serve.set_defaults(func=cmd_serve)

    gdb = sub.add_parser("gdb", help="open a recording in gdb, connected and with symbols")
    gdb.add_argument("file")
    gdb.add_argument(
        "--no-session", action="store_true", help="neither restore nor save FILE.ttsession"
    )
    gdb.add_argument("gdb_args", nargs=argparse.REMAINDER, help="-- GDB-ARGS...")
    gdb.set_defaults(func=cmd_gdb)

    tui = sub.add_parser("tui", help="scrub a recording in the terminal UI")
    tui.add_argument("file", nargs="?", help="recording (default: the sample)")
    tui.add_argument(
        "--gdb-port", type=int, default=None, metavar="PORT",
        help="also serve gdb on 127.0.0.1:PORT from the same session (0 picks one)",
    )  # fmt: skip
    tui.add_argument(
        "--no-session", action="store_true", help="neither restore nor save FILE.ttsession"
    )
    tui.set_defaults(func=cmd_tui)

    info = sub.add_parser("info", help="describe a recording")
    info.add_argument("file")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)

    from ttdbg.index.cli import add_commands as add_index_commands

    add_index_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "snapshot_every", 0) is None:
        from ttdbg.backend.recorder import DEFAULT_SNAPSHOT_EVERY

        # Firmware runs far slower per instruction (interrupts, devices): snapshot it more often.
        firmware = getattr(args, "machine", None) is not None
        args.snapshot_every = (
            DEFAULT_FIRMWARE_SNAPSHOT_EVERY if firmware else DEFAULT_SNAPSHOT_EVERY
        )
    try:
        return int(args.func(args))
    except TtdbgError as err:
        print(f"ttdbg: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("ttdbg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
