"""The Linux syscall table, one module per area; importing this package fills `SYSCALLS`."""

from . import files, io, memory, metadata, process, signals, threads, time
from .table import SYSCALLS

__all__ = ["SYSCALLS", "files", "io", "memory", "metadata", "process", "signals", "threads", "time"]
