"""PostgreSQL test databases: one migrated template per session, one copy per test.

The server comes from `MEDLEY_TEST_DATABASE_URL` (default the local server, database
`test`). PostgreSQL tests are never skipped: an unreachable server fails the session with
a message saying what to do (`make test` starts the local server first).

Loaded as a pytest plugin by `tests/conftest.py`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    """The server the tests use; its own database is only used for admin statements."""
    return os.environ.get("MEDLEY_TEST_DATABASE_URL", DEFAULT_URL)


def database_url(name: str) -> str:
    """The base URL with its database replaced by `name`."""
    parts = urlsplit(base_url())
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"MEDLEY_TEST_DATABASE_URL must be a postgresql:// URL, not {base_url()!r}"
        )
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin() -> psycopg.Connection[TupleRow]:
    return psycopg.connect(base_url(), autocommit=True, connect_timeout=5)


def create_database(name: str, *, template: str | None = None) -> str:
    """Create database `name` (a copy of `template` if given) and return its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with _admin() as conn:
        conn.execute(statement)
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop database `name` if it exists, disconnecting whoever is still on it."""
    with _admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def unique_database_name(prefix: str = "medley_t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def _migrate(url: str) -> None:
    from medley.infrastructure.jobs.storage.postgres.store import PostgresJobStore

    store = PostgresJobStore(url, pool_min=1, pool_max=1)
    await store.open()
    try:
        await store.migration_apply()
    finally:
        await store.close()


def _migrate_blocking(url: str) -> None:
    asyncio.run(_migrate(url))


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The base URL, after checking that the server answers. Fails, never skips."""
    url = base_url()
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        problem = str(exc).strip()
    else:
        return url
    pytest.fail(
        f"PostgreSQL is not reachable at {url}: {problem}\n"
        "The PostgreSQL tests are never skipped. Start the server (`make test` runs "
        "scripts/ensure-postgres) or point MEDLEY_TEST_DATABASE_URL at one.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """Name of a database migrated once per session, copied by every `pg_url`."""
    name = f"medley_test_template_{os.getpid()}"
    drop_database(name)
    url = create_database(name)
    # In a thread of its own: this fixture may first be needed inside a running loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_migrate_blocking, url).result()
    yield name
    drop_database(name)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated database of this test's own, dropped afterwards."""
    name = unique_database_name()
    url = create_database(name, template=pg_template)
    yield url
    drop_database(name)
