"""The files a recording holds (loader, libraries, files mapped or read), content-addressed.

Each distinct content is kept once, keyed by its SHA-256; a path names the content the guest
saw under it (the last one stored for that path). Recording fills the store from the host and
writes a FILE frame for each new (path, content) pair; replay reads the frames back, checks
every digest, and never opens a host file.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import lz4.frame

from ttdbg.errors import RecordingError

DIGEST_SIZE = 32
MAX_FILE_SIZE = 1 << 30  # a mapped file larger than this is refused rather than stored
_PATH_LEN = struct.Struct("<H")


@dataclass(frozen=True)
class StoredFile:
    """One path the guest mapped, with the digest and size of its content."""

    path: str
    digest: bytes
    size: int


def digest_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class FileStore:
    """Content by digest, and the digest each path last had."""

    def __init__(self, recording: bool = False) -> None:
        self._blobs: dict[bytes, bytes] = {}
        self.paths: dict[str, bytes] = {}
        self._recording = recording
        self._pending: list[bytes] = []  # FILE frame payloads not yet written

    def add(self, path: str, data: bytes, digest: bytes | None = None) -> bytes:
        """Keep `data` as the content of `path`; returns its digest. A caller that stored
        this very content before passes its digest (the one `add` returned then)."""
        if digest is None or self._blobs.get(digest) is not data:
            digest = digest_of(data)
        if self.paths.get(path) == digest:
            return digest
        fresh = digest not in self._blobs
        self._blobs.setdefault(digest, data)
        self.paths[path] = digest
        if self._recording:
            body = lz4.frame.compress(data) if fresh else b""
            self._pending.append(encode_frame(digest, path, body))
        return digest

    def take_frames(self) -> list[bytes]:
        """The FILE frames added since the last call, for the recorder to write (before any
        event that names their digests)."""
        frames, self._pending = self._pending, []
        return frames

    def get(self, digest: bytes) -> bytes | None:
        return self._blobs.get(digest)

    def by_path(self, path: str) -> bytes | None:
        digest = self.paths.get(path)
        return None if digest is None else self._blobs.get(digest)

    def span(self, ref: bytes, length: int, where: str) -> bytes:
        """The `length` bytes a FILE_READ event's reference (digest | u64 offset) names,
        checked against the stored content before anything is copied."""
        digest, offset = ref[:DIGEST_SIZE], int.from_bytes(ref[DIGEST_SIZE:], "little")
        data = self._blobs.get(digest)
        if data is None or len(ref) != DIGEST_SIZE + 8:
            raise RecordingError(f"{where}: a read refers to a file the recording does not hold")
        if offset + length > len(data):
            raise RecordingError(f"{where}: a read past the end of its stored file")
        return data[offset : offset + length]

    def listing(self) -> list[StoredFile]:
        return [
            StoredFile(path, digest, len(self._blobs[digest]))
            for path, digest in sorted(self.paths.items())
        ]

    @property
    def contents(self) -> int:
        """How many distinct contents are stored (each once, however many paths name it)."""
        return len(self._blobs)

    @property
    def total_size(self) -> int:
        return sum(len(b) for b in self._blobs.values())

    def load_frame(self, payload: bytes, where: str) -> None:
        """Add one FILE frame read from a recording, checking its content against its digest."""
        if len(payload) < DIGEST_SIZE + _PATH_LEN.size:
            raise RecordingError(f"corrupt file frame at {where}")
        digest = payload[:DIGEST_SIZE]
        (path_len,) = _PATH_LEN.unpack_from(payload, DIGEST_SIZE)
        start = DIGEST_SIZE + _PATH_LEN.size
        if start + path_len > len(payload):
            raise RecordingError(f"corrupt file frame at {where}")
        path = payload[start : start + path_len].decode("utf-8", "surrogateescape")
        body = payload[start + path_len :]
        if body:
            try:
                declared = int(lz4.frame.get_frame_info(body).get("content_size", 0))
                if declared > MAX_FILE_SIZE:
                    raise RecordingError(f"file frame at {where}: file too large")
                # Never inflate past the declared size: a frame cannot ask for more memory.
                inflate = lz4.frame.LZ4FrameDecompressor()
                data = inflate.decompress(body, max_length=declared) if declared else b""
                complete = inflate.eof or not declared
            except RuntimeError:
                raise RecordingError(f"corrupt file frame at {where}") from None
            if not complete:
                raise RecordingError(f"corrupt file frame at {where} (content cut short)")
            if digest_of(data) != digest:
                raise RecordingError(f"file frame at {where}: content does not match its digest")
            self._blobs[digest] = data
        elif digest not in self._blobs:
            raise RecordingError(f"file frame at {where} refers to content stored nowhere")
        self.paths[path] = digest


def encode_frame(digest: bytes, path: str, body: bytes) -> bytes:
    raw_path = path.encode("utf-8", "surrogateescape")[:0xFFFF]
    return digest + _PATH_LEN.pack(len(raw_path)) + raw_path + body
