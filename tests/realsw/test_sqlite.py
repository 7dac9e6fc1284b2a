"""SQLite's shell, built static from Debian's source package, behaves the same under ttdbg.

Each scenario runs natively, under `ttdbg record` and under `ttdbg replay`, in fresh
directories; the output, the exit status and the database file's bytes must be equal, and the
recorded database must pass `PRAGMA integrity_check` and dump the same as the native one.
`build-sqlite.sh` builds the shell once per Debian version into ~/.cache/ttdbg-tests/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import run_native, run_ttdbg
from tests.realsw import built_program

ROWS = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, x REAL);
BEGIN; INSERT INTO t(name, x) VALUES ('a', 1.5), ('b', 2.25), ('c', 1e-3); COMMIT;
INSERT INTO t(name, x) SELECT 'row' || value, value * 0.1 FROM generate_series(1, 300);
UPDATE t SET x = x * 3 WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
SELECT count(*), sum(id) FROM t;
"""
FLOATS = """
SELECT round(avg(x), 3), sum(x), printf('%.17g', avg(x)), total(x * x), min(x), max(x) FROM t;
SELECT group_concat(printf('%.6e', x / 7.0), ' ') FROM (SELECT x FROM t ORDER BY id LIMIT 12);
SELECT CAST(9007199254740993.0 AS INTEGER), 1e308 * 10, -0.0, 0.1 + 0.2;
"""
LOCKING = """
.connection 1
.open db.sqlite
BEGIN IMMEDIATE;
INSERT INTO t(name) VALUES ('from the second connection');
.connection 0
INSERT INTO t(name) VALUES ('refused: locked');
.connection 1
COMMIT;
.connection 0
PRAGMA locking_mode=EXCLUSIVE;
BEGIN EXCLUSIVE; INSERT INTO t(name) VALUES ('exclusive'); COMMIT;
SELECT count(*) FROM t;
"""
VACUUM = """
DELETE FROM t WHERE id > 20;
PRAGMA page_count;
VACUUM;
PRAGMA page_count;
"""
CHECK = """
PRAGMA integrity_check;
.dump
"""
SCENARIOS = {
    "delete-journal": "PRAGMA journal_mode=DELETE;" + ROWS + FLOATS + CHECK,
    "truncate-journal": "PRAGMA journal_mode=TRUNCATE;" + ROWS + VACUUM + CHECK,
    "persist-journal": "PRAGMA journal_mode=PERSIST;" + ROWS + LOCKING + CHECK,
    # In exclusive locking mode SQLite keeps WAL's index in heap memory...
    "wal-exclusive": "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
    + ROWS
    + FLOATS
    + "PRAGMA wal_checkpoint(TRUNCATE);"
    + CHECK,
    # ...otherwise in db.sqlite-shm, a MAP_SHARED writable mapping two connections share.
    "wal": "PRAGMA journal_mode=WAL;" + ROWS + LOCKING + FLOATS + "PRAGMA wal_checkpoint;" + CHECK,
    "locking": ROWS + LOCKING + VACUUM + CHECK,
}


@pytest.fixture(scope="module")
def sqlite() -> str:
    return built_program("build-sqlite.sh", "SQLite")


def dump(sqlite: str, db: Path) -> bytes:
    return run_native([sqlite, str(db), "PRAGMA integrity_check;", ".dump"]).stdout


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_sqlite_scenario_matches_native(sqlite: str, scenario: str, tmp_path: Path) -> None:
    script = SCENARIOS[scenario].encode()
    dirs = {name: tmp_path / name for name in ("native", "record", "replay")}
    for d in dirs.values():
        d.mkdir()
    native = run_native([sqlite, "db.sqlite"], script, cwd=dirs["native"], timeout=120)
    rec_path = tmp_path / "sqlite.ttrec"
    rec = run_ttdbg(
        ["record", "-o", str(rec_path), "--", sqlite, "db.sqlite"],
        script,
        cwd=dirs["record"],
        timeout=600,
    )
    assert rec.stdout == native.stdout
    assert rec.stderr.splitlines()[: len(native.stderr.splitlines())] == native.stderr.splitlines()
    assert rec.returncode == native.returncode
    native_db, rec_db = dirs["native"] / "db.sqlite", dirs["record"] / "db.sqlite"
    assert rec_db.read_bytes() == native_db.read_bytes()
    assert sorted(p.name for p in dirs["record"].iterdir()) == sorted(
        p.name for p in dirs["native"].iterdir()
    )
    assert dump(sqlite, rec_db) == dump(sqlite, native_db)
    assert dump(sqlite, rec_db).startswith(b"ok\n")
    rep = run_ttdbg(["replay", str(rec_path)], b"", cwd=dirs["replay"], timeout=600)
    assert rep.stdout == native.stdout, rep.stderr.decode()[-500:]
    assert list(dirs["replay"].iterdir()) == []
    shutil.rmtree(tmp_path, ignore_errors=True)
