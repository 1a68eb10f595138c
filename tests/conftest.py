"""Fixtures shared by every test layer: databases, stores, job factories.

`store` runs each test once per backend (`[sqlite]`, `[postgres]`). Tests never branch
on the backend's type, only on `store.capabilities`; what else differs (a second store
on the same database, an empty database, raw schema changes) lives behind `backend`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from medley.infrastructure.jobs.storage.port import JobStore
from tests.support import jobs
from tests.support.backends import Backend, PostgresBackend, SqliteBackend

pytest_plugins = ["tests.support.postgres"]

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A fresh SQLite database file of this test's own."""
    return tmp_path / "medley.db"


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def backend_handle(backend_name: str, request: pytest.FixtureRequest) -> Backend:
    """The unopened handle; database fixtures are resolved here, outside the event loop."""
    if backend_name == "sqlite":
        return SqliteBackend(request.getfixturevalue("sqlite_path"))
    return PostgresBackend(request.getfixturevalue("pg_url"))


@pytest.fixture
async def backend(backend_handle: Backend) -> AsyncIterator[Backend]:
    """The test database of one backend; closes every store opened through it."""
    try:
        yield backend_handle
    finally:
        await backend_handle.aclose()


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[JobStore]:
    """An open, migrated store on a fresh database, once per backend."""
    opened = await backend.open_store()
    yield opened
    await backend.close_store(opened)


@pytest.fixture
def insert_job() -> jobs.InsertJob:
    """`await insert_job(store, queue="ai", ...)` inserts one job with test defaults."""
    return jobs.insert_job
