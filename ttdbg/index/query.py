"""SQL over an index with DuckDB: the tables as views over the Parquet files, plus views that
join the program's symbols (functions, calls_named, writes_named)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ttdbg.backend.recording import Recording
from ttdbg.errors import TtdbgError
from ttdbg.symbols import Symbols

from .schema import CALLS, FUNCTIONS, RETURNS, SUMMARY, SYSCALLS, SYSCALLS_FILE, WRITES
from .store import IndexStore


class QueryError(TtdbgError):
    """The SQL did not run: a one-line reason."""

    exit_status = 2


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    intervals: int  # in the recording
    indexed: int  # of them in the index (a partial index answers for those only)


def symbols_table(symbols: Symbols, functions: bool) -> pa.Table:
    """Function (or data) symbols with their address ranges and where their source starts; a
    symbol without a size reaches to the next one."""
    chosen = [s for s in symbols.symbols if s.is_function == functions]
    rows = []
    for i, sym in enumerate(chosen):
        following = chosen[i + 1].addr if i + 1 < len(chosen) else sym.addr + 1
        high = sym.addr + sym.size if sym.size else following
        line = symbols.line_for(sym.addr) if functions else None
        rows.append(
            {"name": sym.name, "low": sym.addr, "high": max(high, sym.addr + 1),
             "file": line.path if line else None, "line": line.line if line else None}
        )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=FUNCTIONS)


def _files(store: IndexStore, table: str, done: list[int]) -> list[str]:
    return [store.file(table, k) for k in done]


def connect(rec: Recording) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the index's tables and views."""
    store = IndexStore(rec.path)
    store.check()
    done = store.done()
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")

    def parquet_view(name: str, table: str, schema: pa.Schema) -> None:
        files = _files(store, table, done)
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}])")
        else:
            con.register(f"{name}_empty", schema.empty_table())
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_empty")

    parquet_view("writes", "writes", WRITES)
    parquet_view("raw_calls", "calls", CALLS)
    parquet_view("unmatched_returns", "returns", RETURNS)
    parquet_view("intervals", "summary", SUMMARY)
    syscalls = os.path.join(store.path, SYSCALLS_FILE)
    if os.path.exists(syscalls):
        con.execute(
            "CREATE VIEW syscalls AS SELECT * FROM read_parquet('"
            + syscalls.replace("'", "''")
            + "')"
        )
    else:
        con.register("syscalls_empty", SYSCALLS.empty_table())
        con.execute("CREATE VIEW syscalls AS SELECT * FROM syscalls_empty")
    con.register("call_links", store.call_links())
    con.execute(
        """CREATE VIEW calls AS
        SELECT c.icount, c.pc, c.target, c.sp,
               coalesce(c.return_icount, l.return_icount) AS return_icount,
               coalesce(c.retval, l.retval) AS retval, c.arg0, c.arg1, c.arg2, c.arg3,
               c.tid
        FROM raw_calls c LEFT JOIN call_links l USING (icount)"""
    )
    symbols = Symbols(rec.program_image, rec.program.load_bias)
    con.register("functions_table", symbols_table(symbols, functions=True))
    con.register("objects_table", symbols_table(symbols, functions=False))
    con.execute("CREATE VIEW functions AS SELECT * FROM functions_table")
    con.execute(
        "CREATE VIEW symbols AS SELECT name, low, high FROM functions_table "
        "UNION ALL SELECT name, low, high FROM objects_table"
    )
    con.execute(
        """CREATE VIEW calls_named AS
        SELECT c.*, callee.name AS callee, caller.name AS caller
        FROM calls c
        LEFT JOIN functions callee ON c.target >= callee.low AND c.target < callee.high
        LEFT JOIN functions caller ON c.pc >= caller.low AND c.pc < caller.high"""
    )
    con.execute(
        """CREATE VIEW writes_named AS
        SELECT w.*, s.name AS symbol, f.name AS function
        FROM writes w
        LEFT JOIN symbols s ON w.addr >= s.low AND w.addr < s.high
        LEFT JOIN functions f ON w.pc >= f.low AND w.pc < f.high"""
    )
    return con


def run_query(rec: Recording, sql: str) -> Result:
    """Run one SQL statement over the index of `rec`."""
    store = IndexStore(rec.path)
    con = connect(rec)
    indexed, total = len(store.done()), len(store.check()["intervals"])
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise QueryError(f"query: {first}") from None
    finally:
        con.close()
    return Result(columns, rows, total, indexed)
