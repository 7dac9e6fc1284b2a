"""The index directory beside a recording (REC.idx/): its manifest binding it to the
recording's bytes, which intervals are done, atomic writes, and reading it back."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttdbg.errors import TtdbgError

from .classify import CALL_PUSH
from .links import IntervalEnds, link_calls
from .schema import (
    FORMAT,
    INTERVAL_TABLES,
    MANIFEST_FILE,
    SUMMARY,
    SYSCALLS_FILE,
    interval_file,
)


class IndexUnusable(TtdbgError):
    """The index is missing, stale (the recording changed) or corrupt."""

    exit_status = 2


@dataclass(frozen=True)
class Fingerprint:
    """What binds an index to one recording's bytes."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: str) -> Fingerprint:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return cls(st.st_size, st.st_mtime_ns, digest.hexdigest())


def index_dir(recording_path: str) -> str:
    return recording_path + ".idx"


class IndexStore:
    """One recording's index directory; reads never trust a file the manifest does not bind."""

    def __init__(self, recording_path: str) -> None:
        self.recording_path = recording_path
        self.path = index_dir(recording_path)

    # -- the manifest -----------------------------------------------------------------------

    def manifest(self) -> dict[str, Any] | None:
        try:
            with open(os.path.join(self.path, MANIFEST_FILE), "rb") as f:
                data = json.loads(f.read(1 << 20))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: treated as stale
        return data if isinstance(data, dict) else {}

    def stale_reason(self, intervals: list[tuple[int, int]] | None = None) -> str | None:
        """Why the index does not describe the recording as it is now, or None if it does.

        The size and modification time are compared first; if the time differs, the bytes'
        hash decides (a copy keeps the bytes but not the time)."""
        manifest = self.manifest()
        if manifest is None:
            return "there is no index"
        if manifest.get("format") != FORMAT:
            return "the index was made by another version of ttdbg"
        bound = manifest.get("recording", {})
        try:
            st = os.stat(self.recording_path)
        except OSError as err:
            return f"cannot read the recording ({err.strerror})"
        if bound.get("size") != st.st_size:
            return "the recording changed since it was indexed"
        if (
            bound.get("mtime_ns") != st.st_mtime_ns
            and bound.get("sha256") != Fingerprint.of(self.recording_path).sha256
        ):
            return "the recording changed since it was indexed"
        if intervals is not None and manifest.get("intervals") != [list(i) for i in intervals]:
            return "the index's intervals do not match the recording's snapshots"
        return None

    def check(self) -> dict[str, Any]:
        """The manifest of a usable index; IndexUnusable says clearly why not."""
        reason = self.stale_reason()
        if reason is not None:
            raise IndexUnusable(
                f"{self.recording_path}: {reason}; run 'ttdbg index {self.recording_path}'"
            )
        manifest = self.manifest()
        assert manifest
        return manifest

    def start(self, arch: str, intervals: list[tuple[int, int]]) -> None:
        """Make the directory describe this recording; a stale index is removed first."""
        if self.stale_reason(intervals) is not None:
            self.remove()
        os.makedirs(self.path, exist_ok=True)
        for table in INTERVAL_TABLES:
            os.makedirs(os.path.join(self.path, table), exist_ok=True)
        fp = Fingerprint.of(self.recording_path)
        manifest = {
            "format": FORMAT,
            "recording": {
                "file": os.path.basename(self.recording_path),
                "size": fp.size, "mtime_ns": fp.mtime_ns, "sha256": fp.sha256,
            },
            "arch": arch,
            "intervals": [list(i) for i in intervals],
        }  # fmt: skip
        self._write_atomic(MANIFEST_FILE, json.dumps(manifest, indent=1).encode())

    def remove(self) -> None:
        """Delete the files an index consists of (nothing else in the directory)."""
        for table in INTERVAL_TABLES:
            folder = os.path.join(self.path, table)
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                if name.endswith((".parquet", ".tmp")) and name[:6].isdigit():
                    os.unlink(os.path.join(folder, name))
        for name in (SYSCALLS_FILE, MANIFEST_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.path, name))

    # -- writing ----------------------------------------------------------------------------

    def _write_atomic(self, relative: str, data: bytes) -> None:
        final = os.path.join(self.path, relative)
        tmp = final + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final)

    def write_interval(self, interval: int, files: dict[str, bytes]) -> None:
        """Store one interval's files; the summary last, so its presence means complete."""
        for table in INTERVAL_TABLES:
            if table != "summary":
                self._write_atomic(interval_file(table, interval), files[table])
        self._write_atomic(interval_file("summary", interval), files["summary"])

    def write_syscalls(self, data: bytes) -> None:
        self._write_atomic(SYSCALLS_FILE, data)

    # -- reading ----------------------------------------------------------------------------

    def done(self) -> list[int]:
        """The intervals whose files are all present, by their summary marker."""
        manifest = self.manifest() or {}
        count = len(manifest.get("intervals", []))
        return [
            k for k in range(count)
            if all(os.path.exists(self.file(t, k)) for t in INTERVAL_TABLES)
        ]  # fmt: skip

    def file(self, table: str, interval: int) -> str:
        return os.path.join(self.path, interval_file(table, interval))

    def verify(self, interval: int) -> bool:
        """Whether an interval's files read back as Parquet with the expected schemas."""
        try:
            for table, schema in INTERVAL_TABLES.items():
                read = pq.read_schema(self.file(table, interval))
                if not read.equals(schema):
                    return False
        except (OSError, pa.ArrowException):
            return False
        return True

    def summaries(self) -> pa.Table:
        """Every complete interval's summary row, in interval order."""
        tables = [self._read(self.file("summary", k)) for k in self.done()]
        return pa.concat_tables(tables) if tables else SUMMARY.empty_table()

    def _read(self, path: str, columns: list[str] | None = None) -> pa.Table:
        # One small file: reading it directly on this thread beats the dataset reader.
        try:
            return pq.ParquetFile(path).read(columns=columns, use_threads=False)
        except (OSError, pa.ArrowException) as err:
            raise self._corrupt(path, err) from None

    def read_interval(
        self, table: str, interval: int, columns: list[str] | None = None
    ) -> pa.Table:
        return self._read(self.file(table, interval), columns)

    def parquet_file(self, table: str, interval: int) -> pq.ParquetFile:
        path = self.file(table, interval)
        try:
            return pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as err:
            raise self._corrupt(path, err) from None

    def read_row_groups(
        self, table: str, interval: int, groups: list[int], opened: pq.ParquetFile | None = None
    ) -> pa.Table:
        """Some row groups of a file (through `opened`, the file already open, if given); a
        few groups decode faster on this thread than handed to Arrow's pool."""
        path = self.file(table, interval)
        try:
            return (opened or pq.ParquetFile(path)).read_row_groups(groups, use_threads=False)
        except (OSError, pa.ArrowException) as err:
            raise self._corrupt(path, err) from None

    def _corrupt(self, path: str, err: Exception) -> IndexUnusable:
        return IndexUnusable(
            f"{path}: corrupt index file ({err}); run 'ttdbg index {self.recording_path}'"
        )

    def call_links(self) -> pa.Table:
        """Returns matched to calls of earlier intervals (icount, return_icount, retval)."""
        manifest = self.check()
        push = CALL_PUSH[manifest["arch"]]
        summaries = self.summaries()
        ends = []
        for row in summaries.to_pylist():
            k = row["interval"]
            returns = self.read_interval("returns", k).to_pylist()
            calls = self.read_interval("calls", k, ["icount", "sp", "tid"])
            opened = calls.filter(
                pc.is_in(calls.column("icount"), pa.array(row["open_calls"], pa.int64()))
            )
            open_calls = [(c["icount"], c["sp"] + push, c["tid"]) for c in opened.to_pylist()]
            unmatched = [(r["icount"], r["sp"], r["retval"], r["tid"]) for r in returns]
            ends.append(IntervalEnds(k, unmatched, open_calls))
        links = link_calls(ends)
        icounts = sorted(links)
        return pa.table(
            {
                "icount": pa.array(icounts, pa.int64()),
                "return_icount": pa.array([links[i][0] for i in icounts], pa.int64()),
                "retval": pa.array([links[i][1] for i in icounts], pa.uint64()),
            }
        )
