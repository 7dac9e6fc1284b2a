"""The guest's file descriptor table: deterministic numbers, shared open-file descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errnos import EBADF, EMFILE

MAX_FDS = 1024


@dataclass
class OpenFile:
    """One open-file description; dup'd descriptors share it (and its host file, if any)."""

    ident: int
    kind: str  # "stdin", "stdout", "stderr", "file", "dir", "pipe", "proc", "procdir"
    path: str
    flags: int
    # An emulated file's content (latin-1, to travel in snapshots) and read position.
    data: str = ""
    offset: int = 0


@dataclass
class FdTable:
    """Guest fd -> open-file description, allocated lowest-free as Linux does."""

    files: dict[int, OpenFile]
    cloexec: set[int]
    next_ident: int = 3

    @classmethod
    def with_stdio(cls) -> FdTable:
        names = ("stdin", "stdout", "stderr")
        return cls({fd: OpenFile(fd, names[fd], f"<{names[fd]}>", 2) for fd in range(3)}, set())

    def get(self, fd: int) -> OpenFile | None:
        return self.files.get(fd)

    def lowest_free(self, start: int = 0) -> int:
        fd = start
        while fd in self.files:
            fd += 1
        return fd if fd < MAX_FDS else -EMFILE

    def open(self, kind: str, path: str, flags: int, cloexec: bool, fd: int | None = None) -> int:
        """Install a new description at `fd` (or the lowest free one); returns the fd."""
        if fd is None:
            fd = self.lowest_free()
            if fd < 0:
                return fd
        self.files[fd] = OpenFile(self.next_ident, kind, path, flags)
        self.next_ident += 1
        self._set_cloexec(fd, cloexec)
        return fd

    def dup(self, old: int, new: int | None = None, cloexec: bool = False, start: int = 0) -> int:
        f = self.files.get(old)
        if f is None:
            return -EBADF
        if new is None:
            new = self.lowest_free(start)
            if new < 0:
                return new
        self.files[new] = f
        self._set_cloexec(new, cloexec)
        return new

    def close(self, fd: int) -> OpenFile | None:
        """Remove `fd`; returns its description, or None if it was not open."""
        self.cloexec.discard(fd)
        return self.files.pop(fd, None)

    def is_shared(self, ident: int) -> bool:
        return any(f.ident == ident for f in self.files.values())

    def _set_cloexec(self, fd: int, on: bool) -> None:
        if on:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def to_state(self) -> dict[str, Any]:
        return {
            # (Its fields are plain values: a copy of them, without asdict's deep walk,
            # which took some 8% of each snapshot of the thread bench.)
            "files": {str(fd): dict(vars(f)) for fd, f in sorted(self.files.items())},
            "cloexec": sorted(self.cloexec),
            "next_ident": self.next_ident,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FdTable:
        shared: dict[int, OpenFile] = {}
        files = {}
        for fd, raw in state["files"].items():
            f = shared.setdefault(raw["ident"], OpenFile(**raw))
            files[int(fd)] = f
        return cls(files, set(state["cloexec"]), state["next_ident"])
