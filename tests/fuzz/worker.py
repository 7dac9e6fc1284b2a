"""Runs `ttdbg info` and `ttdbg replay --verify` on recordings, in this process, one JSON line
of outcome per run: started by the fuzzing test as a subprocess with an address-space cap."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import sys
import traceback
from types import FrameType

from ttdbg.cli import main

COMMANDS = (["info"], ["replay", "--verify"])


class Hang(BaseException):
    """A run took longer than its time limit (BaseException: nothing in ttdbg catches it)."""


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise Hang


def _where(err: BaseException) -> str:
    """Where an exception escaped from: the innermost ttdbg frame."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "/ttdbg/" in f.filename]
    last = frames[-1] if frames else traceback.extract_tb(err.__traceback__)[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno}"


def classify(status: int | None, err: str) -> str:
    lines = err.strip().splitlines()
    if status == 0:
        return "ok"
    one_line = len(lines) == 1 and lines[0].startswith("ttdbg: ")
    if status == 2 and one_line:
        return "error"
    if status == 1 and one_line:
        return "replay-stopped"  # a divergence or a guest error, said in one line
    return f"bad-exit-{status}-{len(lines)}-lines"


def run_one(path: str, command: list[str], seconds: float) -> dict[str, str]:
    out = io.TextIOWrapper(io.BytesIO())
    err = io.TextIOWrapper(io.BytesIO(), write_through=True)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status: int | None = main([*command, path])
        outcome = classify(status, err.buffer.getvalue().decode(errors="replace"))  # type: ignore[attr-defined]
    except Hang:
        outcome = "hang"
    except SystemExit as exc:
        outcome = classify(exc.code if isinstance(exc.code, int) else 2, "x\nx")
    except BaseException as exc:
        outcome = f"traceback {type(exc).__name__} at {_where(exc)}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        gc.collect()  # the runs' Unicorn instances, each holding address space for its code
    message = err.buffer.getvalue().decode(errors="replace").strip().splitlines()  # type: ignore[attr-defined]
    return {"outcome": outcome, "message": message[-1][:200] if message else ""}


def serve(paths: list[str], seconds: float) -> None:
    # Import what the commands import lazily now, so the first case's timer measures ttdbg.
    import ttdbg.backend.recording
    import ttdbg.backend.replayer  # noqa: F401

    report = os.fdopen(os.dup(1), "w", buffering=1)
    signal.signal(signal.SIGALRM, _alarm)
    for path in paths:
        for command in COMMANDS:
            result = run_one(path, command, seconds)
            report.write(json.dumps({"case": path, "command": command[0], **result}) + "\n")


if __name__ == "__main__":
    serve(sys.argv[2:], float(sys.argv[1]))
