"""What Linux's execve does with a `#!` script: the interpreter line becomes the command.

As binfmt_script does: the first 256 bytes hold the line; the interpreter's path runs up to
a space, tab or the line's end, and the rest of the line, trimmed, is one optional argument.
The interpreter runs with argv [interpreter, argument?, script path, original argv[1:]...],
and may itself be a script, up to Linux's depth of four.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ttdbg.errors import UsageError

LINE_MAX = 256  # BINPRM_BUF_SIZE
MAX_DEPTH = 4  # BINPRM_MAX_RECURSION
SPACETAB = b" \t"


@dataclass(frozen=True)
class Command:
    """The file execve ends up running, its argv, and the path the caller named (AT_EXECFN)."""

    program: str
    argv: list[bytes]
    execfn: str


def _interpreter_line(head: bytes, path: str) -> tuple[bytes, bytes | None]:
    """The interpreter and its optional argument from a script's first bytes."""
    end = head.find(b"\n")
    if end < 0:
        rest = head[2:].lstrip(SPACETAB)
        # The whole buffer without a line end: the interpreter's name must end within it.
        if not rest or not any(c in rest for c in b" \t\0"):
            raise UsageError(f"{path}: interpreter line longer than {LINE_MAX} bytes")
        end = len(head)
    line = head[2:end].strip(SPACETAB)
    if not line or line[:1] == b"\0":
        raise UsageError(f"{path}: no interpreter after #!")
    cut = min((i for i in (line.find(b" "), line.find(b"\t"), line.find(b"\0")) if i >= 0),
              default=len(line))  # fmt: skip
    name = line[:cut]
    arg = line[cut:].lstrip(SPACETAB).split(b"\0", 1)[0] if cut < len(line) else b""
    return name, arg or None


def resolve(path: str, argv: list[bytes]) -> Command:
    """The command execve(path, argv) runs: `path` itself, or the interpreter its `#!` line
    names (a one-line error for what Linux refuses: not executable, a missing interpreter,
    scripts nested too deep)."""
    program = path
    for _ in range(MAX_DEPTH + 1):
        if not os.access(program, os.X_OK):
            raise UsageError(f"{program}: permission denied (not executable)")
        try:
            with open(program, "rb") as f:
                head = f.read(LINE_MAX)
        except OSError as err:
            raise UsageError(f"{program}: cannot open ({err.strerror})") from None
        if not head.startswith(b"#!"):
            return Command(program, argv, path)
        name, arg = _interpreter_line(head, program)
        interpreter = os.fsdecode(name)
        if not os.path.exists(interpreter):
            raise UsageError(f"{program}: bad interpreter {interpreter}: no such file")
        if os.path.isdir(interpreter):
            raise UsageError(f"{program}: bad interpreter {interpreter}: is a directory")
        argv = [name, *([arg] if arg else []), os.fsencode(program), *argv[1:]]
        program = interpreter
    raise UsageError(f"{path}: scripts nested more than {MAX_DEPTH} deep")
