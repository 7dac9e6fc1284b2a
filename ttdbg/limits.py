"""Size limits that every reader of untrusted input (recordings, snapshots) checks against."""

from __future__ import annotations

# Guest memory a recording may use (touched pages), unless its header declares another limit;
# also `ttdbg record --max-memory`'s default.
DEFAULT_MEMORY_LIMIT = 4 << 30
# Address space a guest may map: every architecture ttdbg runs has at most 48-bit user space.
# Mapping costs nothing until pages are touched, so this bounds addresses, not memory use.
ADDRESS_SPACE = 1 << 48
# Room for metadata (snapshot headers, JSON) on top of the guest memory a frame may hold.
METADATA_MARGIN = 64 << 20
# The encoded events of one EVENTS frame (the recorder flushes every 512 events).
MAX_EVENT_BATCH = 256 << 20
# argv and environment together: Linux allows a quarter of the stack limit, at most this here.
MAX_ARGS_BYTES = 32 << 20
# An icount or count read from a file: below 2^63 so it fits every signed 64-bit field.
MAX_COUNT = (1 << 63) - 1
