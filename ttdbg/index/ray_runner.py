"""Indexing on a Ray cluster: the recording goes to the object store once, every interval is a
task that returns its Parquet files, which the caller writes (no shared file system needed)."""

from __future__ import annotations

import hashlib
import multiprocessing.synchronize
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

from ttdbg.backend.recording import Recording, open_recording
from ttdbg.errors import UsageError

from .build import Runner
from .interval import IntervalFiles, index_interval

_opened: dict[str, Recording] = {}


def _recording_from_bytes(data: bytes, digest: str) -> Recording:
    """The recording in a worker: written once per worker process to a private file."""
    if digest not in _opened:
        _opened.clear()
        fd, path = tempfile.mkstemp(prefix="ttdbg-", suffix=".ttrec")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            _opened[digest] = open_recording(path)
        finally:
            os.unlink(path)
    return _opened[digest]


def _task(data: bytes, digest: str, interval: int, seek_every: int) -> IntervalFiles:
    return index_interval(_recording_from_bytes(data, digest), interval, seek_every=seek_every)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs the ray package: pip install 'ttdbg[cluster]'") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast when a HOST:PORT address answers nothing (Ray itself retries for minutes)."""
    host, sep, port = address.split("://")[-1].rpartition(":")
    if not sep or not port.isdigit():
        return  # not HOST:PORT ('auto'): Ray reports its own errors quickly
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise UsageError(
            f"--ray {address}: cannot reach a Ray cluster ({err.strerror or err})"
        ) from None


def ray_runner(address: str) -> Runner:
    """A runner for `build_index` on the Ray cluster at `address` ('auto': the one this
    machine belongs to; 'local': a new one on this machine with one CPU per worker)."""
    ray = _import_ray()

    def run(
        path: str,
        todo: list[int],
        workers: int,
        cancel: multiprocessing.synchronize.Event,
        seek_every: int,
    ) -> Iterator[IntervalFiles]:
        started = False
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                else:
                    _probe(address)
                    ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise UsageError(f"--ray {address}: cannot reach a Ray cluster ({err})") from None
            started = True
        task = ray.remote(num_cpus=1, max_retries=1)(_task)
        try:
            with open(path, "rb") as f:
                data = f.read()
            digest = hashlib.sha256(data).hexdigest()
            ref = ray.put(data)
            pending = [task.remote(ref, digest, k, seek_every) for k in todo]
            try:
                while pending:
                    if cancel.is_set():
                        break
                    finished, pending = ray.wait(pending, num_returns=1, timeout=0.5)
                    for done in finished:
                        yield ray.get(done)
            finally:
                for left in pending:
                    ray.cancel(left, force=True)
        finally:
            if started:
                ray.shutdown()

    return run
