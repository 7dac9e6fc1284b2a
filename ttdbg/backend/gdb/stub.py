"""The GDB stub: typed requests in, reply payloads out, every move made on a Timeline."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from ..cancel import CancelToken
from ..linkmap import library_list_svr4, loaded_objects, r_debug_address
from ..linux.errnos import EBADF, EINVAL, ENOENT
from ..machine import RegisterFile
from ..stops import (
    BeginningOfHistory,
    BreakpointHit,
    EndOfHistory,
    GuestFaulted,
    Interrupted,
    InterruptEntered,
    Stop,
    WatchpointHit,
)
from ..timeline import Timeline, TimelineError
from . import commands as c
from .monitor import MonitorCommands
from .packets import MAX_PACKET, escape

WATCH_KINDS = {2: "write", 3: "read", 4: "access"}
WATCH_REASONS = {"write": "watch", "read": "rwatch", "access": "awatch"}
SIMPLE_QUERIES = {
    "qsThreadInfo": b"l",
    "qAttached": b"1",
    "qSymbol": b"OK",
}
FEATURES = (
    f"PacketSize={MAX_PACKET:x};QStartNoAckMode+;qXfer:features:read+;qXfer:exec-file:read+;"
    "qXfer:auxv:read+;qXfer:threads:read+;qXfer:libraries-svr4:read+;"
    "swbreak+;hwbreak+;vContSupported+;ReverseStep+;ReverseContinue+"
).encode()

log = logging.getLogger(__name__)
_QUOTE = {'"': "&quot;"}


class RequestError(Exception):
    """A request with values the stub refuses: answered with an error, nothing changed."""


@dataclass
class Reply:
    """What the server sends back: payloads in order, and whether to end the connection."""

    payloads: list[bytes]
    close: bool = False


@dataclass
class GdbStub:
    """Protocol state of one gdb connection over a shared Timeline."""

    timeline: Timeline
    exec_path: str  # the name under which gdb can fetch the program (vFile)
    image: bytes
    error_messages: bool = False  # gdb said error-message+: errors may carry text
    hw_breakpoints: set[int] = field(default_factory=set)
    # Breakpoints gdb removed that stay on the timeline until a request other than Z/z:
    # gdb removes and inserts every breakpoint around every step, and the timeline (with
    # whoever watches it: the TUI redraws on each change) sees only what the burst changed.
    _removed: set[int] = field(default_factory=set)
    _open_files: dict[int, bytes] = field(default_factory=dict)
    # gdb's Hg and Hc threads (0: any, -1: all): registers are read from the Hg thread, a
    # reverse step moves the Hc one (a forward step names its thread in vCont).
    general_thread: int = 0
    continue_thread: int = 0
    # The expedited registers: a template of `NN:%s;` fields, where each one's hex lies in
    # the hex of the reader's raw slots, and a reader for all of them in one call.
    _expedite: tuple[bytes, list[tuple[int, int]], RegisterFile] | None = field(
        default=None, repr=False
    )
    # The last thread list gdb read, and its XML (the same at nearly every stop).
    _threads_seen: tuple[tuple[int, str], ...] | None = None  # those _threads_xml_seen lists
    _threads_xml_seen: bytes = b""

    def __post_init__(self) -> None:
        self.monitor = MonitorCommands(self.timeline)
        self._table: dict[type, Callable[..., Reply]] = {
            c.Supported: self._supported,
            c.StartNoAck: self._start_no_ack,
            c.SimpleQuery: self._simple_query,
            c.Xfer: self._xfer,
            c.Monitor: self._monitor,
            c.HaltReason: lambda r, t: Reply([b"T05thread:%x;" % self.timeline.current_thread]),
            c.ReadRegisters: self._read_registers,
            c.ReadRegister: self._read_register,
            c.WriteRegisters: lambda r, t: Reply([b"E01"]),
            c.WriteRegister: lambda r, t: Reply([b"E01"]),
            c.ReadMemory: self._read_memory,
            c.WriteMemory: self._write_memory,
            c.SetBreak: self._set_break,
            c.Resume: self._resume,
            c.VContQuery: lambda r, t: Reply([b"vCont;c;C;s;S"]),
            c.SetThread: self._set_thread,
            c.ThreadAlive: self._thread_alive,
            c.Detach: lambda r, t: Reply([b"OK"], close=True),
            c.Kill: lambda r, t: Reply([b"OK"], close=True),
            c.VFile: self._vfile,
            c.Malformed: lambda r, t: Reply([self.error(f"malformed packet: {r.why}")]),
            c.Unknown: lambda r, t: Reply([b""]),
        }
        self._vfile_ops: dict[str, Callable[[tuple[bytes, ...]], bytes]] = {
            "setfs": lambda args: b"F0",
            "open": self._vfile_open,
            "pread": self._vfile_pread,
            "fstat": self._vfile_fstat,
            "close": self._vfile_close,
        }

    def handle(self, payload: bytes, cancel: CancelToken | None = None) -> Reply:
        """Answer one packet payload; never raises for anything a client can send."""
        return self.answer(c.parse(payload), cancel)

    @staticmethod
    def runs_long(request: c.Request) -> bool:
        """Whether answering may run the guest for long (a continue, a monitor command):
        those run on the engine thread while the server watches for gdb's interrupt; the
        rest (steps included) are short enough to answer on the server's own thread."""
        if type(request) is c.Resume:
            return not request.step
        return type(request) is c.Monitor

    def answer(self, request: c.Request, cancel: CancelToken | None = None) -> Reply:
        """Answer one parsed request; never raises for anything a client can send.

        Whatever goes wrong inside a request is answered with an error reply; the values a
        request carries are checked before they reach the timeline, so a refused one leaves
        nothing behind.
        """
        if self._removed and type(request) is not c.SetBreak:
            self.remove_breakpoints()
        handler = self._table.get(type(request))
        if handler is None:
            return Reply([b""])
        # Called on the engine thread that owns the timeline (see engine.py), so nothing
        # else moves it while a request looks at it.
        try:
            return handler(request, cancel or CancelToken())
        except (TimelineError, RequestError) as err:
            return Reply([self.error(str(err))])
        except Exception as err:  # a bug must cost one request, not the session
            log.debug("request %r failed", request, exc_info=True)
            return Reply([self.error(f"internal error: {type(err).__name__}: {err}")])

    def error(self, text: str) -> bytes:
        """An error reply: `E.text` when gdb accepts error messages, else `E01`."""
        if not self.error_messages:
            return b"E01"
        clean = "".join(ch if " " <= ch < "\x7f" and ch not in "$#}*" else "?" for ch in text)
        return b"E." + clean[:200].encode()

    def _check_range(self, addr: int, length: int, what: str) -> None:
        limit = 1 << self.timeline.machine.arch.address_bits
        if addr >= limit or addr + length > limit:
            raise RequestError(f"{what}: {addr:#x}+{length:#x} is outside the address space")

    def _supported(self, r: c.Supported, t: CancelToken) -> Reply:
        self.error_messages = "error-message+" in r.features
        return Reply([FEATURES])

    # -- handshake --------------------------------------------------------------------------

    def _simple_query(self, r: c.SimpleQuery, t: CancelToken) -> Reply:
        if r.name == "qOffsets":
            # Where a static-pie program was loaded, so gdb relocates its symbols.
            bias = self.timeline.recording.program.load_bias
            return Reply([b"Text=%x;Data=%x;Bss=%x" % (bias, bias, bias)])
        if r.name == "qC":
            return Reply([b"QC%x" % self.timeline.current_thread])
        if r.name == "qfThreadInfo":
            tids = [tid for tid, _name in self.timeline.thread_names()]
            return Reply([b"m" + b",".join(b"%x" % tid for tid in tids)])
        return Reply([SIMPLE_QUERIES.get(r.name, b"")])

    def _start_no_ack(self, r: c.StartNoAck, t: CancelToken) -> Reply:
        return Reply([b"OK"])  # the connection stops acking once this reply is sent

    def _xfer(self, r: c.Xfer, t: CancelToken) -> Reply:
        if r.obj == "features" and r.annex == "target.xml":
            data = self.timeline.machine.arch.target_xml().encode()
        elif r.obj == "exec-file":
            data = self.exec_path.encode()
        elif r.obj == "auxv":
            data = self.timeline.proc.platform.auxv
        elif r.obj == "threads":
            data = self._threads_xml()
        elif r.obj == "libraries-svr4" and not r.annex:
            data = self._libraries_xml()
        else:
            return Reply([b"E00"])
        length = min(r.length, MAX_PACKET // 4)  # escaping may double it
        chunk = data[r.offset : r.offset + length]
        more = r.offset + length < len(data)
        return Reply([(b"m" if more else b"l") + escape(chunk)])

    def _libraries_xml(self) -> bytes:
        """The loader's list of loaded objects, read from guest memory at this position."""

        def read(addr: int, size: int) -> bytes:
            try:
                return self.timeline.read_memory(addr, size)
            except TimelineError as err:
                raise OSError(str(err)) from None

        r_debug = r_debug_address(read, self.timeline.proc.platform.auxv)
        return library_list_svr4(loaded_objects(read, r_debug), r_debug)

    def _monitor(self, r: c.Monitor, t: CancelToken) -> Reply:
        ok, text = self.monitor.run(r.command, t)
        out = [console_output(text)] if text else []
        return Reply([*out, b"OK" if ok else b"E01"])

    # -- registers and memory ---------------------------------------------------------------

    def _register_hex(self, index: int, regs: dict[str, int]) -> bytes:
        reg = self.timeline.machine.arch.gdb_registers[index]
        if reg.compute is not None:
            value: int | None = reg.compute(regs)
        else:
            value = regs.get(reg.source) if reg.source else None
        if value is None:
            return b"xx" * reg.size
        return (value & ((1 << reg.bitsize) - 1)).to_bytes(reg.size, "little").hex().encode()

    def _registers(self) -> dict[str, int]:
        """The registers of gdb's selected thread (Hg), or of the running one."""
        tid = self.general_thread
        if tid <= 0:
            return self.timeline.registers()
        return self.timeline.thread_registers(tid)

    def _read_registers(self, r: c.ReadRegisters, t: CancelToken) -> Reply:
        regs = self._registers()
        count = len(self.timeline.machine.arch.gdb_registers)
        return Reply([b"".join(self._register_hex(i, regs) for i in range(count))])

    def _read_register(self, r: c.ReadRegister, t: CancelToken) -> Reply:
        if r.number >= len(self.timeline.machine.arch.gdb_registers):
            return Reply([b"E01"])
        return Reply([self._register_hex(r.number, self._registers())])

    # -- threads ----------------------------------------------------------------------------

    def _alive(self, tid: int) -> bool:
        return tid <= 0 or any(alive == tid for alive, _name in self.timeline.thread_names())

    def _set_thread(self, r: c.SetThread, t: CancelToken) -> Reply:
        if r.op not in ("g", "c") or not self._alive(r.tid):
            return Reply([self.error(f"no thread {r.tid:x} here")])
        if r.op == "g":
            self.general_thread = r.tid
        else:
            self.continue_thread = r.tid
        return Reply([b"OK"])

    def _thread_alive(self, r: c.ThreadAlive, t: CancelToken) -> Reply:
        return Reply([b"OK" if r.tid > 0 and self._alive(r.tid) else b"E01"])

    def _threads_xml(self) -> bytes:
        names = self.timeline.thread_names()
        if names != self._threads_seen:
            rows = [
                f'<thread id="{tid:x}" core="0" name="{xml_escape(name, _QUOTE)}"/>'
                for tid, name in names
            ]
            xml = '<?xml version="1.0"?><threads>' + "".join(rows) + "</threads>"
            self._threads_seen, self._threads_xml_seen = names, xml.encode()
        return self._threads_xml_seen

    def _read_memory(self, r: c.ReadMemory, t: CancelToken) -> Reply:
        self._check_range(r.addr, 0, "memory read")
        limit = 1 << self.timeline.machine.arch.address_bits
        length = min(r.length, MAX_PACKET // 2, limit - r.addr)
        data = bytearray()
        addr = r.addr
        # A read that runs into unmapped memory returns the readable prefix, page by page.
        while len(data) < length:
            n = min(length - len(data), 0x1000 - (addr % 0x1000))
            try:
                data += self.timeline.read_memory(addr, n)
            except TimelineError:
                break
            addr += n
        return Reply([data.hex().encode() if data or length == 0 else b"E01"])

    def _write_memory(self, r: c.WriteMemory, t: CancelToken) -> Reply:
        # Writing would change the recorded execution; an empty probe still tells gdb X works.
        return Reply([b"OK" if not r.data else b"E01"])

    def _set_break(self, r: c.SetBreak, t: CancelToken) -> Reply:
        tl = self.timeline
        if r.type in (0, 1):
            if r.kind not in tl.machine.arch.breakpoint_kinds:
                raise RequestError(f"breakpoint kind {r.kind} is not an instruction size here")
            self._check_range(r.addr, r.kind, "breakpoint")
            if r.insert:
                self._removed.discard(r.addr)
                tl.add_breakpoint(r.addr)
                if r.type == 1:
                    self.hw_breakpoints.add(r.addr)
            else:
                self._removed.add(r.addr)
                self.hw_breakpoints.discard(r.addr)
            return Reply([b"OK"])
        kind = WATCH_KINDS.get(r.type)
        if kind is None:
            return Reply([b""])
        self._check_range(r.addr, r.kind, "watchpoint")
        if r.insert:
            tl.add_watchpoint(kind, r.addr, r.kind)
        else:
            tl.remove_watchpoint(kind, r.addr, r.kind)
        return Reply([b"OK"])

    @property
    def removals_pending(self) -> bool:
        """Whether gdb removed breakpoints the timeline still holds (see `_removed`)."""
        return bool(self._removed)

    def remove_breakpoints(self) -> None:
        """Take the breakpoints gdb removed off the timeline (see `_removed`): before any
        other request, when the client goes quiet after removing, and when it goes."""
        for addr in self._removed:
            self.timeline.remove_breakpoint(addr)
        self._removed.clear()

    # -- execution --------------------------------------------------------------------------

    def _resume(self, r: c.Resume, cancel: CancelToken) -> Reply:
        """Steps move one thread by its own next or previous instruction (rr's semantics);
        continues stop at the first or last hit in any thread, and the reply names it."""
        tl = self.timeline
        if r.step:
            tid = next(
                (t for t in (r.thread, self.continue_thread, self.general_thread) if t > 0), 0
            )
            tid = tid or tl.current_thread
            stop = tl.step_thread(tid, forward=not r.reverse, cancel=cancel)
            if isinstance(stop, Interrupted | BeginningOfHistory | EndOfHistory):
                tid = tl.current_thread
            return Reply([self.stop_reply(stop, tid)])
        stop = tl.reverse_continue(None, cancel) if r.reverse else tl.continue_(None, cancel)
        if isinstance(stop, InterruptEntered | GuestFaulted):
            # gdb reports the stop as a signal; the console line says what happened.
            said = console_output(f"ttdbg: {stop.describe()}\n")
            return Reply([said, self.stop_reply(stop)])
        return Reply([self.stop_reply(stop)])

    def stop_reply(self, stop: Stop, thread: int = 0) -> bytes:
        """The T packet for `stop`, naming the thread that stopped (gdb selects it with Hg
        before reading its registers)."""
        if not thread:
            found = stop.thread if isinstance(stop, BreakpointHit | WatchpointHit) else 0
            thread = found or self.timeline.current_thread
        if isinstance(stop, Interrupted):
            return b"T02%sthread:%x;" % (self._expedited(thread), thread)
        if isinstance(stop, GuestFaulted):  # the faulting instruction is at the position
            return b"T%02x%sthread:%x;" % (stop.signal, self._expedited(thread), thread)
        reason = _STOP_REASONS.get(type(stop), _no_reason)(stop, self.hw_breakpoints)
        return b"T05%sthread:%x;%s" % (self._expedited(thread), thread, reason)

    def _expedited(self, thread: int) -> bytes:
        """`NN:value;` for the registers gdb needs to find the frame (gdbserver's expedite
        list), so a step costs gdb no `g` request; only for the thread at the position."""
        if thread != self.timeline.current_thread:
            return b""
        if self._expedite is None:
            machine = self.timeline.machine
            arch = machine.arch
            numbers = [arch.gdb_register_number(name) for name in arch.gdb_expedite]
            sources = [arch.gdb_registers[n].source for n in numbers]
            regs = [arch.register(name) for name in sources if name is not None]
            assert len(regs) == len(numbers), "expedited registers are plain registers"
            # Each register's raw slot is little-endian and zero-filled, as gdb wants it: its
            # hex, cut to gdb's size, labelled.
            template = b"".join(b"%02x:%%s;" % n for n in numbers)
            spans = [
                (
                    2 * RegisterFile.SLOT * i,
                    2 * (RegisterFile.SLOT * i + arch.gdb_registers[n].size),
                )
                for i, n in enumerate(numbers)
            ]
            self._expedite = (template, spans, RegisterFile(machine.uc, regs))
        template, spans, regfile = self._expedite
        raw = regfile.save().hex().encode()
        return template % tuple([raw[lo:hi] for lo, hi in spans])

    # -- the program, served to gdb ------------------------------------------------------------

    def _vfile(self, r: c.VFile, t: CancelToken) -> Reply:
        op = self._vfile_ops.get(r.op)
        if op is None:
            return Reply([b""])
        try:
            return Reply([op(r.args)])
        except (ValueError, IndexError):
            return Reply([b"F-1,%x" % EINVAL])

    def _vfile_open(self, args: tuple[bytes, ...]) -> bytes:
        path = bytes.fromhex(args[0].decode()).decode(errors="surrogateescape")
        # The program, or a file the recording holds (its loader, its libraries).
        data = self.image if path == self.exec_path else self.timeline.recording.files.by_path(path)
        if data is None:
            return b"F-1,%x" % ENOENT
        fd = max(self._open_files, default=2) + 1
        self._open_files[fd] = data
        return b"F%x" % fd

    def _vfile_pread(self, args: tuple[bytes, ...]) -> bytes:
        fd, count, offset = (c.hex_number(a) for a in args[:3])
        data = self._open_files.get(fd)
        if data is None:
            return b"F-1,%x" % EBADF
        chunk = data[offset : offset + min(count, MAX_PACKET // 2)]
        return b"F%x;" % len(chunk) + escape(chunk)

    def _vfile_fstat(self, args: tuple[bytes, ...]) -> bytes:
        data = self._open_files.get(c.hex_number(args[0]))
        if data is None:
            return b"F-1,%x" % EBADF
        # gdb's fio_stat: big-endian, sizes fixed by the protocol.
        st = struct.pack(">IIIIIIIQQQIII", 0, 0, 0o100755, 1, 0, 0, 0, len(data), 4096,
                         (len(data) + 511) // 512, 0, 0, 0)  # fmt: skip
        return b"F%x;" % len(st) + escape(st)

    def _vfile_close(self, args: tuple[bytes, ...]) -> bytes:
        found = self._open_files.pop(c.hex_number(args[0]), None) is not None
        return b"F0" if found else b"F-1,%x" % EBADF


def _no_reason(stop: Stop, hw_breakpoints: set[int]) -> bytes:
    return b""


# The reason a T05 stop reply gives, by the kind of stop (none for a plain step's). Looked
# up by exact type: GuestFaulted, the one stop that subclasses another, is answered before.
_STOP_REASONS: dict[type, Callable[[Any, set[int]], bytes]] = {
    BreakpointHit: lambda stop, hw: b"hwbreak:;" if stop.address in hw else b"swbreak:;",
    WatchpointHit: lambda stop, hw: (
        b"%s:%x;" % (WATCH_REASONS[stop.kind].encode(), stop.access_address)
    ),
    BeginningOfHistory: lambda stop, hw: b"replaylog:begin;",
    EndOfHistory: lambda stop, hw: b"replaylog:end;",
}


def console_output(text: str) -> bytes:
    """An `O` packet: text gdb prints on its console."""
    return b"O" + text.encode().hex().encode()
