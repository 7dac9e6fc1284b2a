"""The Linux syscall table, one module per area; importing this package fills `SYSCALLS`."""

from . import (
    alarms,
    epoll,
    files,
    io,
    memory,
    metadata,
    process,
    signals,
    sockets,
    threads,
    time,
    xattrs,
)
from .table import ROWS, SYSCALLS

__all__ = [
    "ROWS", "SYSCALLS", "alarms", "epoll", "files", "io", "memory", "metadata", "process",
    "signals", "sockets", "threads", "time", "xattrs",
]  # fmt: skip
