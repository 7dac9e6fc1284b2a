"""The `.ttsession` file: read safely, validated field by field, written atomically.

A session file travels with a recording, so it is untrusted input: it is read only if it is
a regular file (never through a symlink, never blocking on a FIFO or device) of bounded size,
and every field is checked against the schema below. A field that does not fit is dropped
with a note naming it; the rest of the session still applies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .regularfile import NotReadable, read_regular_file

SESSION_VERSION = 1
MAX_SESSION_BYTES = 1 << 20
MAX_ITEMS = 10_000  # entries in any list or table of a session
MAX_NAME = 200
MAX_ICOUNT = (1 << 63) - 1
MAX_ADDRESS = (1 << 64) - 1
WATCH_KINDS = ("write", "read", "access")
HEX_DIGITS = frozenset("0123456789abcdef")
DIGEST_HEX = 64  # a SHA-256 in hex


class SessionFileError(Exception):
    """The session file cannot be used at all (unreadable, not a regular file, too big)."""


@dataclass(frozen=True)
class WatchSpec:
    kind: str
    address: int
    length: int


@dataclass(frozen=True)
class CodeBreakSpec:
    """A breakpoint on a library's code: the file's SHA-256 (hex) and the byte of it."""

    file: str
    offset: int


@dataclass(frozen=True)
class SessionData:
    """A session's fields after validation; anything invalid is already gone."""

    position: int | None = None
    bookmarks: dict[str, int] = field(default_factory=dict)
    back: list[int] = field(default_factory=list)
    forward: list[int] = field(default_factory=list)
    named: dict[str, int] = field(default_factory=dict)
    breakpoints: list[int] = field(default_factory=list)
    watchpoints: list[WatchSpec] = field(default_factory=list)
    code_breakpoints: list[CodeBreakSpec] = field(default_factory=list)
    replay_breaks: list[int] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)


class _Invalid(ValueError):
    pass


def _int(lo: int, hi: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        # bool is an int in Python, and JSON floats (1e3, Infinity) are not positions.
        if type(value) is not int or not lo <= value <= hi:
            raise _Invalid(f"{_show(value)} is not {what}")
        return value

    return check


_icount = _int(0, MAX_ICOUNT, "an icount")
_address = _int(0, MAX_ADDRESS, "an address")


def _name(value: Any) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_NAME:
        raise _Invalid(f"{_show(value)} is not a name of 1 to {MAX_NAME} characters")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _list(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if type(value) is not list or len(value) > MAX_ITEMS:
            raise _Invalid(f"not a list of at most {MAX_ITEMS} entries")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except _Invalid as err:
                raise _Invalid(f"entry {i}: {err}") from None
        return out

    return check


def _table(value_check: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        if type(value) is not dict or len(value) > MAX_ITEMS:
            raise _Invalid(f"not a table of at most {MAX_ITEMS} entries")
        return {_name(k): value_check(v) for k, v in value.items()}

    return check


def _watch(value: Any) -> WatchSpec:
    if type(value) is not dict or set(value) != {"kind", "address", "length"}:
        raise _Invalid("a watchpoint has exactly kind, address and length")
    if value["kind"] not in WATCH_KINDS:
        raise _Invalid(f"watchpoint kind {_show(value['kind'])} is not one of {WATCH_KINDS}")
    return WatchSpec(value["kind"], _address(value["address"]), _icount(value["length"]))


def _code_break(value: Any) -> CodeBreakSpec:
    if type(value) is not dict or set(value) != {"file", "offset"}:
        raise _Invalid("a breakpoint on a library's code has exactly file and offset")
    digest = value["file"]
    if type(digest) is not str or len(digest) != DIGEST_HEX or not set(digest) <= HEX_DIGITS:
        raise _Invalid(f"{_show(digest)} is not a SHA-256 in lowercase hex")
    return CodeBreakSpec(digest, _icount(value["offset"]))


def _layout(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Invalid("not a table")
    out: dict[str, Any] = {}
    if "tab" in value:
        out["tab"] = _name(value["tab"])
    addr = value.get("memory_addr")
    if addr is not None:
        out["memory_addr"] = _name(addr) if type(addr) is str else _address(addr)
    return out


def _history(value: Any) -> tuple[list[int], list[int]]:
    if type(value) is not dict:
        raise _Invalid("not a table")
    return _list(_icount)(value.get("back", [])), _list(_icount)(value.get("forward", []))


# Each field of the file: how to check it (raising _Invalid), and where it goes.
_FIELDS: dict[str, Callable[[Any], Any]] = {
    "position": _icount,
    "bookmarks": _table(_icount),
    "history": _history,
    "named": _table(_icount),
    "breakpoints": _list(_address),
    "watchpoints": _list(_watch),
    "code_breakpoints": _list(_code_break),
    "replay_breaks": _list(_icount),
    "layout": _layout,
    "recording": lambda v: v,  # informative only
}


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"{name} is not a JSON number")


def parse_session(text: bytes) -> tuple[SessionData | None, list[str]]:
    """The validated session in `text` and a note for every field that was dropped.

    None when nothing of it can be used (not JSON, not a table, a newer version).
    """
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return None, ["nested too deeply"]
    except (ValueError, UnicodeDecodeError) as err:
        return None, [f"not JSON ({str(err).splitlines()[0][:80]})"]
    if type(data) is not dict:
        return None, ["not a JSON table"]
    version = data.get("version")
    if type(version) is not int or not 0 <= version <= SESSION_VERSION:
        return None, [f"version {_show(version)} is not one this ttdbg reads ({SESSION_VERSION})"]
    notes: list[str] = []
    values: dict[str, Any] = {}
    for name, check in _FIELDS.items():
        if name not in data:
            continue
        try:
            values[name] = check(data[name])
        except _Invalid as err:
            notes.append(f"{name} ignored: {err}")
        except RecursionError:
            notes.append(f"{name} ignored: nested too deeply")
    unknown = sorted(set(data) - set(_FIELDS) - {"version"})
    if unknown:
        notes.append("unknown fields ignored: " + ", ".join(_show(k) for k in unknown[:5]))
    back, forward = values.pop("history", ([], []))
    values.pop("recording", None)
    return SessionData(back=back, forward=forward, **values), notes


def read_session_file(path: str) -> bytes | None:
    """The bytes of the session file at `path`, None if there is none.

    SessionFileError unless it is a regular file (not a symlink, FIFO or device) of at most
    MAX_SESSION_BYTES.
    """
    try:
        return read_regular_file(path, MAX_SESSION_BYTES, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except NotReadable as err:
        raise SessionFileError(str(err)) from None


def write_session_file(path: str, data: dict[str, Any]) -> None:
    """Replace the session file atomically: a fresh randomly named file next to it (created
    exclusively, never through a symlink), then a rename over the old one."""
    text = json.dumps(data, indent=1).encode()
    directory = os.path.dirname(os.path.abspath(path))
    with _signals_held():
        fd, tmp = tempfile.mkstemp(prefix=".ttsession-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


# Signals whose default action ends the process with no cleanup: a closed terminal (the TUI
# saves on its way out) or a kill.
HELD_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """HELD_SIGNALS arriving in the block take effect at its end, as they would have
    (handler, default action or ignored): a save they cut short would leave its temporary
    file behind. (Python handlers run on the main thread only; elsewhere nothing is held.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: came.append(number)) for sig in HELD_SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # (None: a handler not set from Python; the default action is the one to restore.)
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(came):
            signal.raise_signal(number)
