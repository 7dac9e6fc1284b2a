"""Binary layouts of the kernel structures syscalls copy out, built from host values."""

from __future__ import annotations

import os
import struct

# struct stat for x86-64 (arch/x86/include/uapi/asm/stat.h).
_STAT_X86_64 = struct.Struct("<QQQIIIIQqqqqqqqqqqqq")
# The generic struct stat (include/uapi/asm-generic/stat.h): AArch64, RISC-V.
_STAT_GENERIC = struct.Struct("<QQIIIIQQqiiqqqqqqqII")


def pack_stat(st: os.stat_result, layout: str = "x86_64") -> bytes:
    """struct stat as the kernel fills it for the guest's architecture."""
    if layout == "generic":
        return _STAT_GENERIC.pack(
            st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_rdev, 0,
            st.st_size, st.st_blksize, 0, st.st_blocks,
            int(st.st_atime), st.st_atime_ns % 1_000_000_000,
            int(st.st_mtime), st.st_mtime_ns % 1_000_000_000,
            int(st.st_ctime), st.st_ctime_ns % 1_000_000_000, 0, 0,
        )  # fmt: skip
    return _STAT_X86_64.pack(
        st.st_dev,
        st.st_ino,
        st.st_nlink,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        0,
        st.st_rdev,
        st.st_size,
        st.st_blksize,
        st.st_blocks,
        int(st.st_atime),
        st.st_atime_ns % 1_000_000_000,
        int(st.st_mtime),
        st.st_mtime_ns % 1_000_000_000,
        int(st.st_ctime),
        st.st_ctime_ns % 1_000_000_000,
        0,
        0,
        0,
    )


_STATX_HEAD = struct.Struct("<IIQIIIHHQQQQ")
_STATX_TS = struct.Struct("<qIi")


def pack_statx(st: os.stat_result) -> bytes:
    """struct statx (256 bytes) with the basic fields filled."""
    head = _STATX_HEAD.pack(
        0x7FF,  # STATX_BASIC_STATS
        st.st_blksize,
        0,
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        st.st_mode,
        0,
        st.st_ino,
        st.st_size,
        st.st_blocks,
        0,
    )

    def ts(ns: int) -> bytes:
        return _STATX_TS.pack(ns // 1_000_000_000, ns % 1_000_000_000, 0)

    times = ts(st.st_atime_ns) + ts(st.st_ctime_ns) + ts(st.st_ctime_ns) + ts(st.st_mtime_ns)
    devs = struct.pack(
        "<IIII",
        os.major(st.st_rdev),
        os.minor(st.st_rdev),
        os.major(st.st_dev),
        os.minor(st.st_dev),
    )
    return (head + times + devs).ljust(256, b"\0")


def pack_timespec(ns: int) -> bytes:
    return struct.pack("<qq", ns // 1_000_000_000, ns % 1_000_000_000)


def pack_timeval(ns: int) -> bytes:
    return struct.pack("<qq", ns // 1_000_000_000, (ns // 1000) % 1_000_000)


def pack_utsname(fields: tuple[str, str, str, str, str]) -> bytes:
    """struct utsname: six 65-byte strings (the last, domainname, left empty)."""
    return b"".join(f.encode()[:64].ljust(65, b"\0") for f in (*fields, "(none)"))


def pack_dirents(entries: list[tuple[int, int, str]], limit: int) -> tuple[bytes, int]:
    """linux_dirent64 records for (inode, d_type, name) entries that fit in `limit` bytes.

    Returns the bytes and how many entries they hold.
    """
    out = bytearray()
    count = 0
    for ino, dtype, name in entries:
        raw = name.encode(errors="surrogateescape") + b"\0"
        reclen = (19 + len(raw) + 7) & ~7
        if len(out) + reclen > limit:
            break
        count += 1
        out += struct.pack("<QqHB", ino, count, reclen, dtype) + raw.ljust(reclen - 19, b"\0")
    return bytes(out), count


def pack_rusage(utime_ns: int, stime_ns: int, maxrss_kb: int) -> bytes:
    """struct rusage (144 bytes) with user and system time and max RSS."""
    return (pack_timeval(utime_ns) + pack_timeval(stime_ns) + struct.pack("<q", maxrss_kb)).ljust(
        144, b"\0"
    )
