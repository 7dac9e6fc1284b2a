"""`monitor` commands (qRcmd): time travel by icount, replay breaks, saved states, events."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from ..cancel import CancelToken
from ..eventlog import EventKind
from ..linux.signals import signal_name
from ..stops import WatchpointHit
from ..timeline import Timeline, TimelineError

Handler = Callable[[list[str], CancelToken], str]
SHOWN = 1000  # interrupt entries `monitor interrupts` lists


class MonitorCommands:
    """The monitor command table over one timeline; each command returns console text."""

    def __init__(self, timeline: Timeline) -> None:
        self.tl = timeline
        self._provenance: Any = None  # ttdbg.index.origin.Provenance, made on first use
        self.table: dict[str, tuple[Handler, str]] = {
            "help": (self.help, "list these commands"),
            "info replay": (self.info_replay, "mode, file, icount / total, pc, program status"),
            "seek": (self.seek, "ICOUNT: go to that exact instruction count"),
            "break": (self.add_break, "ICOUNT: stop there when running either way"),
            "delete-break": (self.delete_break, "[ICOUNT]: remove one replay break, or all"),
            "snapshots": (self.snapshots, "the recording's snapshots and saved states"),
            "savevm": (self.savevm, "NAME: remember this moment under NAME"),
            "loadvm": (self.loadvm, "NAME: go back to a moment saved with savevm"),
            "delvm": (self.delvm, "NAME: forget a moment saved with savevm"),
            "events": (self.events, "[N]: the N events before and after this moment"),
            "last": (self.last, "ADDR [LEN]: go to the write that gave these bytes their value"),
            "origin": (self.origin, "ADDR: where this byte's value came from (needs an index)"),
            "catch interrupt": (
                self.catch_interrupt,
                "[N...|off]: continue and reverse-continue stop where the CPU enters an "
                "interrupt (firmware; N as 'interrupts' names them, none: every one)",
            ),
            "interrupts": (self.interrupts, "every interrupt entry of the recording (firmware)"),
        }

    def run(self, line: str, cancel: CancelToken) -> tuple[bool, str]:
        """(succeeded, text to print) for one command line."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            return False, f"monitor: {err}\n"
        for length in (2, 1):
            name = " ".join(words[:length])
            if name in self.table:
                handler, _ = self.table[name]
                try:
                    return True, handler(words[length:], cancel)
                except (TimelineError, ValueError) as err:
                    return False, f"monitor {name}: {err}\n"
        return False, f"monitor: unknown command {line!r}; try 'monitor help'\n"

    def help(self, args: list[str], cancel: CancelToken) -> str:
        width = max(len(n) for n in self.table)
        lines = [f"  {name:<{width}}  {doc}" for name, (_h, doc) in self.table.items()]
        return "ttdbg monitor commands:\n" + "\n".join(lines) + "\n"

    def info_replay(self, args: list[str], cancel: CancelToken) -> str:
        tl = self.tl
        rec = tl.recording
        exit_ev = rec.exit_event()
        if exit_ev is None:
            status = "recording truncated" if rec.truncated else "program still running at the end"
        elif exit_ev.args[1]:
            status = f"program killed by signal {exit_ev.args[1]} at icount {exit_ev.icount}"
        else:
            status = f"program exited with status {exit_ev.args[0]} at icount {exit_ev.icount}"
        lo, hi = tl.snapshot_interval()
        return (
            f"mode: replay\nfile: {rec.path}\nicount: {tl.position} / {tl.end}\n"
            f"pc: {tl.pc:#x}\nsnapshot interval: {lo}..{hi}\nstatus: {status}\n" + machine_lines(tl)
        )

    def _icount(self, args: list[str]) -> int:
        if len(args) != 1:
            raise ValueError("expects one ICOUNT")
        return int(args[0].replace("_", ""), 0)

    def seek(self, args: list[str], cancel: CancelToken) -> str:
        stop = self.tl.seek(self._icount(args), cancel=cancel)
        return f"{stop.describe()}, pc {self.tl.pc:#x}\n"

    def add_break(self, args: list[str], cancel: CancelToken) -> str:
        icount = self._icount(args)
        self.tl.add_replay_break(icount)
        return f"replay break at icount {icount}\n"

    def delete_break(self, args: list[str], cancel: CancelToken) -> str:
        if args:
            icount = self._icount(args)
            self.tl.remove_replay_break(icount)
            return f"deleted replay break at icount {icount}\n"
        self.tl.remove_replay_break()
        return "deleted all replay breaks\n"

    def snapshots(self, args: list[str], cancel: CancelToken) -> str:
        tl = self.tl
        snaps = tl.recording.snapshots
        lines = [f"{len(snaps)} recording snapshots:"]
        lines += [
            f"  {e.icount:>14,}  {'keyframe' if e.keyframe else 'delta':8}  {e.size:,} bytes"
            for e in snaps.entries
        ]
        lines.append(f"{len(tl.cache)} cached states, {tl.cache.bytes_used >> 20} MiB")
        for name, icount in sorted(tl.named.items()):
            lines.append(f"  saved {name!r} at icount {icount}")
        return "\n".join(lines) + "\n"

    def savevm(self, args: list[str], cancel: CancelToken) -> str:
        if len(args) != 1:
            raise ValueError("expects one NAME")
        self.tl.save_named(args[0])
        return f"saved {args[0]!r} at icount {self.tl.position}\n"

    def loadvm(self, args: list[str], cancel: CancelToken) -> str:
        if len(args) != 1:
            raise ValueError("expects one NAME")
        stop = self.tl.load_named(args[0])
        return f"loaded {args[0]!r}: {stop.describe()}\n"

    def delvm(self, args: list[str], cancel: CancelToken) -> str:
        if len(args) != 1:
            raise ValueError("expects one NAME")
        self.tl.delete_named(args[0])
        return f"deleted {args[0]!r}\n"

    def events(self, args: list[str], cancel: CancelToken) -> str:
        n = int(args[0]) if args else 5
        if not 0 <= n <= 1000:
            raise ValueError("shows 0 to 1000 events each way")
        before, after = self.tl.events_around(n, n)
        names = self.tl.machine.arch.syscall_names
        lines = [f"  {e.icount:>14,}  {e.describe(names)}" for e in before]
        lines.append(f"> {self.tl.position:>14,}  (you are here)")
        lines += [f"  {e.icount:>14,}  {e.describe(names)}" for e in after]
        return "\n".join(lines) + "\n"

    def last(self, args: list[str], cancel: CancelToken) -> str:
        if not 1 <= len(args) <= 2:
            raise ValueError("expects ADDR [LEN]")
        addr = int(args[0], 0)
        length = int(args[1], 0) if len(args) > 1 else 1
        if length <= 0:
            raise ValueError("LEN must be at least 1")
        tl = self.tl
        stop = tl.last_write(addr, length, cancel=cancel)
        if stop is None:
            return f"nothing wrote {addr:#x}+{length} before icount {tl.position}\n"
        if not isinstance(stop, WatchpointHit):
            return f"{stop.describe()}\n"
        # Going backwards a watchpoint stops on the write (x86-64) or just after it.
        writer = stop.icount if tl.machine.arch.watchpoints_steppable else stop.icount - 1
        how = "index lookup" if tl.answered_by_index else "replay"
        by = f"pc {stop.pc:#x}"
        if stop.syscall is not None:
            by = f"{syscall_call(tl, writer, stop.syscall)} at pc {stop.pc:#x}"
        if stop.signal is not None:
            name = signal_name(stop.signal)
            by = f"the delivery of {name} (its frame; interrupted at pc {stop.pc:#x})"
        return (
            f"written at icount {writer} by {by}: {stop.old.hex()} -> "
            f"{stop.new.hex()} ({how}); now at icount {stop.icount}\n"
        )

    def origin(self, args: list[str], cancel: CancelToken) -> str:
        if len(args) != 1:
            raise ValueError("expects ADDR")
        addr = int(args[0], 0)
        tl = self.tl
        if tl.index is None:
            raise ValueError(
                f"needs an index of the recording: run 'ttdbg index {tl.recording.path}'"
            )
        from ttdbg.index.origin import Provenance

        if self._provenance is None:
            self._provenance = Provenance(tl.recording, tl.index)
        result = self._provenance.origin(addr, tl.position)
        return f"byte {addr:#x} at icount {tl.position}:\n{result.describe()}\n"

    def catch_interrupt(self, args: list[str], cancel: CancelToken) -> str:
        if args == ["off"]:
            self.tl.catch_interrupts(None)
            return "interrupt entries no longer stop continues\n"
        numbers = [int(a, 0) for a in args if a != "all"]
        if any(not 0 <= n < 1 << 16 for n in numbers):
            raise ValueError("interrupt numbers are 0 to 65535")
        self.tl.catch_interrupts(numbers)
        which = ", ".join(str(n) for n in numbers) if numbers else "every interrupt"
        return f"continue and reverse-continue stop on entering {which}\n"

    def interrupts(self, args: list[str], cancel: CancelToken) -> str:
        tl = self.tl
        firmware = tl.firmware
        if firmware is None:
            raise ValueError("interrupts are entered only in firmware recordings")
        if args:
            raise ValueError("takes no arguments")
        entries = tl.interrupt_entries(cancel)
        name = firmware.board.interrupt_name
        lines = [f"{len(entries)} interrupt entries:"]
        lines += [f"  {e.icount:>14,}  {e.number:>4}  {name(e.number)}" for e in entries[:SHOWN]]
        if len(entries) > SHOWN:
            lines.append(f"  ... and {len(entries) - SHOWN} more")
        return "\n".join(lines) + "\n"


def syscall_call(tl: Timeline, icount: int, nr: int) -> str:
    """The syscall made at `icount`, as its logged event shows it (`read(3, 0x4a1000, 16) =
    16`), or by name when the call was emulated and left no event."""
    names = tl.machine.arch.syscall_names
    for ev in tl.events_at(icount):
        if ev.kind == EventKind.SYSCALL and ev.args[:1] == (nr,):
            return ev.describe(names)
    return names.get(nr, f"syscall {nr}")


def machine_lines(tl: Timeline) -> str:
    """A firmware machine's virtual time, pending interrupts and last interrupt entered."""
    describe = getattr(tl.proc.platform, "describe", None)
    if describe is None:
        return ""
    info = describe()
    ns = info["virtual_ns"]
    last = info["last_interrupt"]
    entered = "none" if last is None else f"{last[1]} at icount {last[0]}"
    return (
        f"machine: {info['machine']}\n"
        f"virtual time: {ns // 1_000_000_000}.{ns % 1_000_000_000:09d} s "
        f"(icount shift {info['icount_shift']})\n"
        f"pending interrupts: {', '.join(info['pending']) or 'none'}\n"
        f"last interrupt entered: {entered}\n"
    )
