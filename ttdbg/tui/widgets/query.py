"""The query screen: SQL over the recording's index (or a canned question), results as a
table; enter on a row goes to its icount."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static

from ttdbg.backend.recording import Recording
from ttdbg.errors import TtdbgError

# (question, SQL): the questions people bring to a time-travel debugger.
CANNED: list[tuple[str, str]] = [
    (
        "functions called most",
        "SELECT callee, count(*) AS calls, min(icount) AS icount FROM calls_named "
        "GROUP BY callee ORDER BY calls DESC LIMIT 100",
    ),
    (
        "every call with its result",
        "SELECT icount, caller, callee, arg0, retval, return_icount FROM calls_named "
        "ORDER BY icount LIMIT 1000",
    ),
    ("syscalls in order", "SELECT icount, name, args, result FROM syscalls ORDER BY icount"),
    (
        "writes to globals",
        "SELECT icount, symbol, function, size, value FROM writes_named "
        "WHERE symbol IS NOT NULL ORDER BY icount LIMIT 1000",
    ),
]

MAX_ROWS = 10_000


class QueryScreen(ModalScreen[int | None]):
    """Ask the index; dismissed with the icount of the chosen row (None: nothing chosen)."""

    DEFAULT_CSS = """
    QueryScreen { align: center middle; }
    #query-box { width: 90%; height: 90%; border: round $accent; }
    #query-canned { height: auto; max-height: 6; }
    #query-error { color: $error; height: auto; }
    #query-results { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "close")]

    def __init__(self, rec: Recording, sql: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.rec = rec
        self.sql = sql
        self.columns: list[str] = []
        self.rows: list[tuple[Any, ...]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="query-box"):
            yield Static("questions about the whole run (enter on a row goes there)")
            yield OptionList(*(q for q, _sql in CANNED), id="query-canned")
            yield Input(self.sql, placeholder="SQL, e.g. SELECT * FROM calls_named", id="query-sql")
            yield Static("", id="query-error")
            yield DataTable(id="query-results", cursor_type="row")

    def on_mount(self) -> None:
        if self.sql:
            self.run_sql(self.sql)
        else:
            self.set_focus(self.query_one("#query-canned"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        sql = CANNED[event.option_index][1]
        self.query_one("#query-sql", Input).value = sql
        self.run_sql(sql)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.run_sql(event.value)

    def run_sql(self, sql: str) -> None:
        """Run `sql` in a worker thread (DuckDB, not the engine: the timeline is untouched)."""
        self.run_worker(lambda: self._run(sql), thread=True, exclusive=True)

    def _run(self, sql: str) -> None:
        from ttdbg.index.query import run_query

        try:
            result = run_query(self.rec, sql)
        except TtdbgError as err:
            self.app.call_from_thread(self._show_error, str(err))
            return
        self.app.call_from_thread(self._show, result.columns, result.rows[:MAX_ROWS])

    def _show_error(self, message: str) -> None:
        self.query_one("#query-error", Static).update(message)

    def _show(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns, self.rows = columns, rows
        self.query_one("#query-error", Static).update(
            "" if "icount" in columns else "(no icount column: rows cannot be visited)"
        )
        table = self.query_one("#query-results", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        table.add_rows([tuple("" if v is None else str(v) for v in row) for row in rows])
        self.set_focus(table)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if "icount" not in self.columns:
            return
        value = self.rows[event.cursor_row][self.columns.index("icount")]
        if isinstance(value, int):
            self.dismiss(value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
