"""The named SQL of the SQLite adapter, and how it runs on a connection.

Everything here runs on the store's own thread (or, for an enqueue that joins the
caller's transaction, on the caller's). A named block may hold several statements: they
run in order and their rows are returned together, as PostgreSQL returns one statement
built of CTEs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString, TypeVar

from medley.infrastructure.jobs.storage import sqlfile
from medley.infrastructure.jobs.storage.sqlite._errors import is_busy, map_errors

T = TypeVar("T")
A = TypeVar("A")
Params = Mapping[str, Any]

BUSY_TIMEOUT_SECONDS = 5.0
"""How long SQLite itself waits for another process's write lock before giving up."""
BEGIN_ATTEMPTS = 3
"""Busy timeouts that BEGIN IMMEDIATE survives before StorageUnavailableError."""

_PRAGMAS: tuple[LiteralString, ...] = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",  # readers never block the writer, nor the writer them
    "PRAGMA synchronous = NORMAL",  # durable at checkpoints; never corrupt in WAL mode
    "PRAGMA foreign_keys = ON",
)


def split_statements(text: str) -> list[str]:
    """Split SQL text into statements at a `;` that ends a line, where SQLite's own parser
    finds a statement complete (so a `;` in a literal, a comment or a trigger body is no
    end). `executescript` would split too, but it commits first, and migrations and
    multi-statement blocks must run inside our transaction."""
    statements: list[str] = []
    buffer = ""
    for line in text.splitlines(keepends=True):
        buffer += line
        if line.rstrip().endswith(";") and sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    statements.append(buffer.strip())
    return [s for s in statements if _has_code(s)]


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


Q = sqlfile.load_queries("medley.infrastructure.jobs.storage.sqlite.sql")
STATEMENTS = {name: split_statements(sql) for name, sql in Q.items()}


def connect(path: str) -> sqlite3.Connection:
    """A connection that several threads may pass around (one at a time) and whose
    transactions are ours: `isolation_level=None` stops sqlite3 from opening its own."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


def guarded(doing: str, fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    with map_errors(doing):
        return fn(conn)


def begin(conn: sqlite3.Connection) -> None:
    """Take the write lock, surviving a few busy timeouts: a long prune or a bulk enqueue
    in another process may hold it for a while."""
    for attempt in range(1, BEGIN_ATTEMPTS + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if attempt == BEGIN_ATTEMPTS or not is_busy(exc):
                raise
            time.sleep(0.05 * attempt)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    begin(conn)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            conn.rollback()
        raise


def in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection, A], T], arg: A) -> T:
    with transaction(conn):
        return fn(conn, arg)


def execute(conn: sqlite3.Connection, sql: str, params: Params | None = None) -> sqlite3.Cursor:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row  # also on a caller's connection, whatever its own factory
    cur.execute(sql, params or {})
    return cur


def run(conn: sqlite3.Connection, name: str, params: Params | None = None) -> list[sqlite3.Row]:
    """Run every statement of a named block; return the rows of all of them."""
    rows: list[sqlite3.Row] = []
    for statement in STATEMENTS[name]:
        rows.extend(execute(conn, statement, params).fetchall())
    return rows


def write(conn: sqlite3.Connection, name: str, params: Params) -> list[sqlite3.Row]:
    with transaction(conn):
        return run(conn, name, params)


def write_count(conn: sqlite3.Connection, name: str, params: Params) -> int:
    """Run a block in a transaction; return how many rows its last statement changed."""
    count = 0
    with transaction(conn):
        for statement in STATEMENTS[name]:
            count = execute(conn, statement, params).rowcount
    return count


def write_many(conn: sqlite3.Connection, name: str, rows: Sequence[Params]) -> int:
    """Run a one-statement block once per row (one prepared statement), in a transaction."""
    with transaction(conn):
        return conn.executemany(Q[name], rows).rowcount
