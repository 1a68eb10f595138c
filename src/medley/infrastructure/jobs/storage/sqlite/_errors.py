"""The one place sqlite3 errors become Medley errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from medley.application.errors import (
    DuplicateJobError,
    MedleyError,
    StorageError,
    StorageUnavailableError,
)

_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
)
"""Primary result codes that mean "try again later" (another writer holds the lock past the
busy timeout) or "the file cannot be reached", not "the request is wrong"."""

_UNIQUE_KEY_VIOLATION = "medley_job.unique_key"
"""How SQLite names the column in "UNIQUE constraint failed: medley_job.unique_key"."""


def is_busy(exc: sqlite3.Error) -> bool:
    """True when another connection holds the lock: the one error worth retrying."""
    return _primary_code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def map_errors(doing: str, *, unique_key: str | None = None) -> Iterator[None]:
    """Translate sqlite3 errors raised while `doing` into the MedleyError tree.

    Args:
        doing: What was being done, for the message ("fetching jobs").
        unique_key: The key a unique violation would be about. SQLite's message names the
            column but not the value, so the caller that knows it passes it in.
    """
    try:
        yield
    except MedleyError:
        raise
    except sqlite3.IntegrityError as exc:
        if _UNIQUE_KEY_VIOLATION in str(exc):
            raise DuplicateJobError(unique_key or "") from exc
        raise StorageError(f"SQLite error while {doing}: {exc}") from exc
    except sqlite3.Error as exc:
        if _primary_code(exc) in _UNAVAILABLE:
            raise StorageUnavailableError(f"SQLite unavailable while {doing}: {exc}") from exc
        raise StorageError(f"SQLite error while {doing}: {exc}") from exc


def _primary_code(exc: sqlite3.Error) -> int | None:
    # Extended codes (SQLITE_BUSY_SNAPSHOT = 517) carry the primary code in the low byte.
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None
