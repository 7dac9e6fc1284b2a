"""The index's tables, their Parquet schemas and where their files live (stable: documented in
the README; columns may be added, never renamed or retyped)."""

from __future__ import annotations

import pyarrow as pa

FORMAT = 7  # bump on any incompatible change to the files below


def _always(name: str, type_: pa.DataType) -> pa.Field:
    """A column never null: stored as a required Parquet column (no definition levels to
    encode for each of its millions of values)."""
    return pa.field(name, type_, nullable=False)


WRITES = pa.schema(
    [
        _always("icount", pa.int64()),  # the writing instruction
        _always("pc", pa.uint64()),
        _always("addr", pa.uint64()),
        _always("size", pa.uint8()),
        _always("value", pa.uint64()),  # little-endian value of the `size` bytes written
        # The syscall that wrote (read's buffer, fstat's struct; stored in pieces of at most
        # 8 bytes at the syscall instruction's icount and pc); null: an instruction's store.
        ("syscall", pa.int32()),
        # Bytes 8..15 of a 16-byte store (an SSE or NEON q register stored whole), else 0.
        _always("value_hi", pa.uint64()),
        # The signal whose frame this is (written onto the stack as the signal is delivered:
        # at the icount whose step delivers it, with the pc the interrupted code goes on at);
        # null: not a signal frame's write.
        ("signal", pa.int32()),
    ]
)

CALLS = pa.schema(
    [
        _always("icount", pa.int64()),  # the call instruction
        _always("pc", pa.uint64()),  # the call site
        _always("target", pa.uint64()),  # the callee's first instruction
        _always("sp", pa.uint64()),  # stack pointer on entry to the callee
        ("return_icount", pa.int64()),  # the return instruction; null: not seen
        ("retval", pa.uint64()),  # the return-value register at the return
        # The first integer argument registers on entry to the callee.
        _always("arg0", pa.uint64()),
        _always("arg1", pa.uint64()),
        _always("arg2", pa.uint64()),
        _always("arg3", pa.uint64()),
        _always("tid", pa.int64()),  # the guest thread that called
    ]
)

# Returns that no call of their interval explains: matched across intervals when read.
RETURNS = pa.schema(
    [
        _always("icount", pa.int64()),
        _always("sp", pa.uint64()),
        ("retval", pa.uint64()),
        _always("tid", pa.int64()),
    ]
)

SYSCALLS = pa.schema(
    [
        ("icount", pa.int64()),
        ("nr", pa.int32()),
        ("name", pa.string()),
        ("args", pa.list_(pa.uint64())),
        ("result", pa.int64()),
        ("payload", pa.binary()),  # the bytes the call produced (read's data, ...)
    ]
)

# One row per interval, so a search can skip intervals that never touch an address.
SUMMARY = pa.schema(
    [
        ("interval", pa.int32()),
        ("lo", pa.int64()),
        ("hi", pa.int64()),
        ("writes", pa.int64()),
        ("calls", pa.int64()),
        ("pages", pa.list_(pa.uint64())),  # page numbers (addr >> 12) written
        ("functions", pa.list_(pa.uint64())),  # call targets entered
        ("open_calls", pa.list_(pa.int64())),  # calls not returned from by the interval's end
        ("seeks", pa.list_(pa.int64())),  # icounts of the interval's seek points, in order
    ]
)

# Seek points: machine states inside an interval, each a delta against the interval's
# snapshot, so that a seek replays from the nearest one instead of from the snapshot. One row
# group per state: a seek reads only its own.
SEEKS = pa.schema(
    [
        ("icount", pa.int64()),
        ("state_hash", pa.string()),  # the hash a recording's snapshot of this state would hold
        ("data", pa.binary()),  # the encoded delta (lz4)
    ]
)

# The program's symbols (functions and data objects), made from its ELF image when queried.
FUNCTIONS = pa.schema(
    [
        ("name", pa.string()),
        ("low", pa.uint64()),
        ("high", pa.uint64()),  # exclusive
        ("file", pa.string()),
        ("line", pa.int32()),
    ]
)

PAGE_SHIFT = 12

# Per-interval tables: directory name and schema. The summary goes last: its file marks the
# interval complete.
# The blocks an interval ran, so a replay of it can learn them at once instead of stopping the
# emulator at each one the first time (checked against the code by crc32 before use).
BLOCKS = pa.schema(
    [
        ("addr", pa.uint64()),
        ("size", pa.uint32()),
        ("crc32", pa.uint32()),
        ("insns", pa.list_(pa.uint64())),  # instruction addresses
    ]
)

INTERVAL_TABLES: dict[str, pa.Schema] = {
    "writes": WRITES,
    "calls": CALLS,
    "returns": RETURNS,
    "seeks": SEEKS,
    "blocks": BLOCKS,
    "summary": SUMMARY,
}


def interval_file(table: str, interval: int) -> str:
    """The file of one interval's table, relative to the index directory."""
    return f"{table}/{interval:06d}.parquet"


SYSCALLS_FILE = "syscalls.parquet"
MANIFEST_FILE = "manifest.json"
