"""Why the timeline stopped moving: typed, frozen stop reasons every front-end understands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    """The timeline stopped at `icount`."""

    icount: int

    def describe(self) -> str:
        return f"stopped at icount {self.icount}"


@dataclass(frozen=True)
class Reached(Stop):
    """The requested position (seek, step, run_to) was reached."""

    def describe(self) -> str:
        return f"at icount {self.icount}"


@dataclass(frozen=True)
class BreakpointHit(Stop):
    """The instruction at `address` is about to execute."""

    address: int
    thread: int = 0  # the thread that hit it (0: not known)

    def describe(self) -> str:
        return f"breakpoint at {self.address:#x} (icount {self.icount})"


@dataclass(frozen=True)
class WatchpointHit(Stop):
    """An access to a watched range; `old` and `new` are the range's bytes around it."""

    kind: str  # "write", "read" or "access"
    address: int  # start of the watched range
    length: int
    access_address: int  # first byte the instruction touched inside the range
    old: bytes
    new: bytes
    pc: int  # the accessing instruction
    thread: int = 0  # the thread whose instruction it was (0: not known)
    syscall: int | None = None  # the syscall that wrote (`last`), None: the instruction did
    signal: int | None = None  # the signal whose frame was written (`last`), else None

    def describe(self) -> str:
        values = f"old {self.old.hex()} new {self.new.hex()}"
        by = f"syscall {self.syscall} at pc" if self.syscall is not None else "pc"
        if self.signal is not None:
            by = f"signal {self.signal}'s frame, interrupted at pc"
        return f"{self.kind} watchpoint {self.address:#x} by {by} {self.pc:#x}: {values}"


@dataclass(frozen=True)
class RegisterChange(Stop):
    """The instruction at `pc` changed `register` from `old` to `new`."""

    register: str
    old: int
    new: int
    pc: int

    def describe(self) -> str:
        return f"{self.register} changed {self.old:#x} -> {self.new:#x} by pc {self.pc:#x}"


@dataclass(frozen=True)
class ReplayBreakHit(Stop):
    """A replay break (a stop at an exact icount) was reached."""

    def describe(self) -> str:
        return f"replay break at icount {self.icount}"


@dataclass(frozen=True)
class BeginningOfHistory(Stop):
    """Moving backwards reached icount 0."""

    def describe(self) -> str:
        return "beginning of history"


@dataclass(frozen=True)
class EndOfHistory(Stop):
    """Moving forwards reached the end of the recording."""

    exit_status: int | None = None
    exit_signal: int | None = None
    truncated: bool = False

    def describe(self) -> str:
        if self.exit_signal:
            how = f"program killed by signal {self.exit_signal}"
        elif self.exit_status is not None:
            how = f"program exited with status {self.exit_status}"
        else:
            how = "recording truncated" if self.truncated else "recording ends"
        return f"end of history at icount {self.icount} ({how})"


@dataclass(frozen=True)
class GuestFaulted(EndOfHistory):
    """The recording ends with a guest fault at `pc` (firmware: a trap with nowhere to go):
    the instruction there raises it; gdb is told `signal`."""

    pc: int = 0
    signal: int = 0
    detail: str = ""

    def describe(self) -> str:
        return f"guest fault at pc {self.pc:#x} (icount {self.icount}): {self.detail}"


@dataclass(frozen=True)
class Interrupted(Stop):
    """The operation was cancelled; the timeline is at `icount`."""

    def describe(self) -> str:
        return f"interrupted at icount {self.icount}"


@dataclass(frozen=True)
class InterruptEntered(Stop):
    """The CPU entered interrupt `number` (named `name` by the board): the machine is at
    the handler's first instruction, the interrupted one's position saved."""

    number: int
    name: str

    def describe(self) -> str:
        return f"entered {self.name} at icount {self.icount}"
