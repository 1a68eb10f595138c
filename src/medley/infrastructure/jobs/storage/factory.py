"""Pick a backend from the URL scheme: the only place that knows both adapters."""

from __future__ import annotations

from pathlib import Path

from medley.application.errors import InvalidDatabaseUrlError
from medley.infrastructure.jobs.storage.port import JobStore

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> Path:
    path = url[len(SQLITE_PREFIX) :]
    if not path or path == ":memory:":
        raise InvalidDatabaseUrlError(url)
    return Path(path)


def create_store(url: str, *, pool_max: int = 10) -> JobStore:
    """An unopened store for `url`. Raises `InvalidDatabaseUrlError` for anything else."""
    if url.startswith(SQLITE_PREFIX):
        from medley.infrastructure.jobs.storage.sqlite.store import SqliteJobStore

        return SqliteJobStore(sqlite_path(url))
    if url.startswith(POSTGRES_PREFIXES) and len(url.split("://", 1)[1]) > 0:
        from medley.infrastructure.jobs.storage.postgres.store import PostgresJobStore

        return PostgresJobStore(url, pool_min=1, pool_max=pool_max)
    raise InvalidDatabaseUrlError(url)


def is_sqlite(url: str) -> bool:
    return url.startswith(SQLITE_PREFIX)
