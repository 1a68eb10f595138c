"""The one place psycopg errors become Medley errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors
import psycopg_pool

from medley.application.errors import (
    DuplicateJobError,
    MedleyError,
    StorageError,
    StorageUnavailableError,
)


@contextmanager
def map_errors(doing: str) -> Iterator[None]:
    """Translate driver errors raised while `doing` into the MedleyError tree."""
    try:
        yield
    except MedleyError:
        raise
    except psycopg.errors.UniqueViolation as exc:
        diag = exc.diag.message_detail or ""
        raise DuplicateJobError(_key_from_detail(diag)) from exc
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        raise StorageUnavailableError(f"PostgreSQL unavailable while {doing}: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"PostgreSQL error while {doing}: {exc}") from exc


def _key_from_detail(detail: str) -> str:
    # "Key (unique_key)=(abc) already exists."
    start, end = detail.find(")=("), detail.rfind(") already")
    return detail[start + 3 : end] if start >= 0 and end > start else detail
