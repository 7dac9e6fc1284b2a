"""`ttdbg query`: SQL over the index answers what the sample program computes, in every output
form; bad SQL or a missing index is a one-line error with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_ttdbg
from ttdbg.cli import main
from ttdbg.index.build import build_index, run_here

ARCHES = ["", "aarch64/", "riscv64/"]


@pytest.fixture(scope="module", params=ARCHES, ids=["x86_64", "aarch64", "riscv64"])
def walk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("walk") / "walk.ttrec"
    shutil.copyfile(SAMPLES / f"{request.param}walk.ttrec", path)
    build_index(str(path), runner=run_here)
    return path


def ttdbg(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the ttdbg command in this process (the subprocess form is tested once below)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def query_json(capsys: pytest.CaptureFixture[str], path: Path, sql: str) -> list[dict[str, object]]:
    status, out, err = ttdbg(capsys, "query", str(path), sql, "--json")
    assert status == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


def walk_expectations() -> tuple[list[int], list[int]]:
    """What walk.c's step_value returns and the values it stores into `counter`."""
    x, counter, returns, counters = 1, 0, [], []
    for round_ in range(40):
        doubled = (x % 1000) * 2
        counter += doubled + round_
        counters.append(counter)
        x = doubled + 1
        returns.append(x)
    return returns, counters


def test_every_call_of_a_function_with_its_result(
    walk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    returns, _ = walk_expectations()
    rows = query_json(
        capsys,
        walk,
        "SELECT caller, arg0, arg1, retval, return_icount > icount AS returned FROM calls_named "
        "WHERE callee = 'step_value' ORDER BY icount",
    )
    assert [r["retval"] for r in rows] == returns
    assert [r["arg0"] for r in rows] == [1] + [x % 1000 for x in returns[:-1]]
    assert [r["arg1"] for r in rows] == list(range(40))
    assert all(r["caller"] == "main" and r["returned"] for r in rows)


def test_the_writers_of_a_global_in_time_order(
    walk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, counters = walk_expectations()
    rows = query_json(
        capsys,
        walk,
        "SELECT value, size, function FROM writes_named WHERE symbol = 'counter' ORDER BY icount",
    )
    assert [r["value"] for r in rows] == counters
    assert {r["function"] for r in rows} == {"step_value"}
    assert {r["size"] for r in rows} == {4}


def test_functions_syscalls_and_the_busiest_callees(
    walk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (main,) = query_json(capsys, walk, "SELECT * FROM functions WHERE name = 'main'")
    assert str(main["file"]).endswith("walk.c")
    assert isinstance(main["line"], int)
    assert int(str(main["high"])) > int(str(main["low"]))
    writes = query_json(
        capsys, walk, "SELECT args, result, payload FROM syscalls WHERE name = 'write'"
    )
    assert len(writes) == 1
    assert bytes.fromhex(str(writes[0]["payload"])).startswith(b"counter=")
    assert writes[0]["args"][0] == 1  # type: ignore[index]
    top = query_json(
        capsys,
        walk,
        "SELECT callee, count(*) AS n FROM calls_named GROUP BY callee ORDER BY n DESC LIMIT 10",
    )
    assert len(top) == 10
    assert {"callee": "step_value", "n": 40} in top


def test_csv_and_table_output(walk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = ttdbg(
        capsys, "query", str(walk), "SELECT icount, addr FROM writes LIMIT 3", "--csv"
    )
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["icount", "addr"]
    assert len(rows) == 4
    out = run_ttdbg(["query", str(walk), "SELECT count(*) AS n FROM calls"])
    assert out.returncode == 0
    assert "(1 rows)" in out.stdout.decode()


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("   ", "empty SQL"),
    ],
)
def test_bad_sql_is_one_line_and_exit_2(
    walk: Path, sql: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _out, err = ttdbg(capsys, "query", str(walk), sql)
    assert status == 2
    err = err.strip()
    assert says in err
    assert len(err.splitlines()) == 1


def test_no_index_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "hello.ttrec"
    shutil.copyfile(SAMPLES / "hello.ttrec", path)
    out = run_ttdbg(["query", str(path), "SELECT 1"])
    assert out.returncode == 2
    assert out.stderr.decode().strip() == (
        f"ttdbg: {path}: there is no index; run 'ttdbg index {path}'"
    )
