"""`ttdbg index --ray`: the interval tasks on a local Ray instance with 2 CPUs write the same
files as the process pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, missing, run_ttdbg
from ttdbg.index.build import build_index
from ttdbg.index.store import IndexStore


@pytest.mark.slow
@pytest.mark.parametrize("name", ["riscv64/walk"])
def test_ray_writes_the_same_files_as_the_pool(name: str, tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        missing("the ray package is not installed (pip install 'ttdbg[cluster]')")
    pool, cluster = tmp_path / "pool" / "rec.ttrec", tmp_path / "ray" / "rec.ttrec"
    for path in (pool, cluster):
        path.parent.mkdir()
        shutil.copyfile(SAMPLES / f"{name}.ttrec", path)
    build_index(str(pool), workers=2)
    out = run_ttdbg(["index", str(cluster), "--ray", "local", "--workers", "2"], timeout=600)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert "index complete" in out.stderr.decode()
    a, b = Path(IndexStore(str(pool)).path), Path(IndexStore(str(cluster)).path)
    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    assert len(files) > 10
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (a, b)]
    for m in manifests:
        del m["recording"]["mtime_ns"]
    assert manifests[0] == manifests[1]


def test_ray_without_a_cluster_is_a_clear_error(tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        missing("the ray package is not installed (pip install 'ttdbg[cluster]')")
    path = tmp_path / "rec.ttrec"
    shutil.copyfile(SAMPLES / "hello.ttrec", path)
    out = run_ttdbg(["index", str(path), "--ray", "127.0.0.1:1"], timeout=300)
    assert out.returncode == 2
    err = out.stderr.decode().strip()
    assert err.startswith("ttdbg: --ray 127.0.0.1:1: cannot reach a Ray cluster")
    assert "Traceback" not in err
