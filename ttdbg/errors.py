"""The exception hierarchy shared by every layer of ttdbg.

TtdbgError
 +-- UsageError            bad command line or unsupported request (exit status 2)
 +-- RecordingError        a file that is missing, not a recording, corrupt or too new (exit 2)
 +-- UnsupportedProgram    a binary ttdbg cannot run: dynamic, wrong architecture (exit 2)
 +-- GuestError            the guest did something ttdbg does not emulate (fork, execve, ...)
 |    +-- GuestFault       a CPU exception the machine has nowhere to deliver (firmware)
 +-- DivergenceError       replay left the recorded path (exit 1)
"""


class TtdbgError(Exception):
    """Base of every error ttdbg reports to a user as one line."""

    exit_status = 2


class UsageError(TtdbgError):
    """The command line or a request does not make sense."""


class RecordingError(TtdbgError):
    """A recording file cannot be read: missing, not a recording, corrupt or too new."""


class UnsupportedProgram(TtdbgError):
    """The program cannot run under ttdbg (dynamic executable, another architecture, ...)."""


class GuestError(TtdbgError):
    """The guest asked for something ttdbg does not emulate."""

    exit_status = 1


class GuestFault(GuestError):
    """The guest raised a CPU exception (a bad access, an undefined instruction, a trap) that
    the machine has nowhere to deliver: the run cannot go on past `pc`."""

    def __init__(self, message: str, pc: int, signal: int = 11, detail: str = "") -> None:
        super().__init__(message)
        self.pc = pc
        self.signal = signal  # what gdb is told (SIGSEGV, SIGBUS, SIGILL, SIGTRAP)
        self.detail = detail or message  # the fault without where it happened


class DivergenceError(TtdbgError):
    """Replay left the recorded path: the log and the guest disagree."""

    exit_status = 1

    def __init__(self, icount: int, expected: str, found: str) -> None:
        super().__init__(f"replay diverged at icount {icount}: expected {expected}, found {found}")
        self.icount = icount
        self.expected = expected
        self.found = found
