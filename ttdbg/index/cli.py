"""`ttdbg index` and `ttdbg query`: the command-line layer of the index (rich lives here)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from ttdbg.errors import UsageError


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def cmd_index(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .build import build_index

    runner = None
    if args.ray is not None:
        from .ray_runner import ray_runner

        runner = ray_runner(args.ray)
    columns = (
        TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("instructions"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = build_index(args.file, args.workers, runner, progress)
    what = (
        f"{report.indexed} intervals indexed ({report.instructions:,} instructions, "
        f"{report.writes:,} writes, {report.calls:,} calls) in {report.seconds:.1f} s"
    )
    if report.reused:
        what += f", {report.reused} already indexed"
    if report.cancelled:
        done = report.indexed + report.reused
        print(
            f"ttdbg: interrupted; {what}; {done} of {report.intervals} intervals are in the "
            f"index, run it again to finish",
            file=sys.stderr,
        )
        return 130
    print(f"ttdbg: {what}; index complete ({report.intervals} intervals)", file=sys.stderr)
    return 0


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_cell(v) for v in value]
    return value


def cmd_query(args: argparse.Namespace) -> int:
    from ttdbg.backend.recording import open_recording

    from .query import run_query

    if not args.sql.strip():
        raise UsageError("query: empty SQL")
    result = run_query(open_recording(args.file), args.sql)
    rows = [[_cell(v) for v in row] for row in result.rows]
    if result.indexed < result.intervals:
        print(
            f"ttdbg: the index holds {result.indexed} of {result.intervals} intervals; "
            f"rows from the others are missing",
            file=sys.stderr,
        )
    if args.json:
        json.dump([dict(zip(result.columns, row, strict=True)) for row in rows], sys.stdout,
                  default=str)  # fmt: skip
        sys.stdout.write("\n")
    elif args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*result.columns, show_lines=False)
        for row in rows:
            table.add_row(*(_format(v) for v in row))
        Console().print(table)
        print(f"({len(rows)} rows)")
    return 0


def _format(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def add_commands(sub: Any) -> None:
    """Add `index` and `query` to the ttdbg command's subparsers."""
    index = sub.add_parser("index", help="index every write and call of a recording (REC.idx/)")
    index.add_argument("file")
    index.add_argument(
        "--workers", type=_workers, default=None, metavar="N",
        help="local processes (default: one per CPU)",
    )  # fmt: skip
    index.add_argument(
        "--ray", default=None, metavar="ADDRESS",
        help="run the intervals on a Ray cluster ('auto': the one this machine belongs to)",
    )  # fmt: skip
    index.set_defaults(func=cmd_index)

    query = sub.add_parser("query", help="run SQL over a recording's index")
    query.add_argument("file")
    query.add_argument("sql", help="one SQL statement (tables: writes, calls, syscalls, ...)")
    out = query.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="rows as a JSON list of objects")
    out.add_argument("--csv", action="store_true", help="rows as CSV with a header")
    query.set_defaults(func=cmd_query)
