"""One handle per storage backend, so that contract tests stay backend-agnostic.

A test that needs more than the `store` fixture (a second store on the same database, a
store on an empty database, a raw schema change) asks the `backend` fixture, whose
methods hide what differs between SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from contextlib import closing
from pathlib import Path

import psycopg
from psycopg import sql

from medley.infrastructure.jobs.storage.port import JobStore
from tests.support import postgres


class Backend(ABC):
    """Opens stores on one test database and cleans up everything it opened."""

    name: str

    def __init__(self) -> None:
        self._stores: list[JobStore] = []

    async def open_store(self, *, migrate: bool = True) -> JobStore:
        """A new, opened store on this test's database (migrated unless told not to)."""
        store = self._new_store()
        await store.open()
        self._stores.append(store)
        if migrate:
            await store.migration_apply()
        return store

    async def open_empty_store(self) -> JobStore:
        """An opened store on a new database with no schema at all."""
        [store] = await self.open_empty_stores(1)
        return store

    async def open_empty_stores(self, count: int) -> list[JobStore]:
        """`count` opened stores sharing one new database with no schema at all."""
        stores = self._new_empty_stores(count)
        for store in stores:
            await store.open()
            self._stores.append(store)
        return stores

    @abstractmethod
    def unreachable_store(self) -> JobStore:
        """An unopened store whose database cannot be reached."""

    async def close_store(self, store: JobStore) -> None:
        if store in self._stores:
            self._stores.remove(store)
            await store.close()

    async def aclose(self) -> None:
        while self._stores:
            await self._stores.pop().close()
        self._cleanup()

    @abstractmethod
    def _new_store(self) -> JobStore: ...

    @abstractmethod
    def _new_empty_stores(self, count: int) -> list[JobStore]: ...

    @abstractmethod
    def record_migration(self, version: int, name: str) -> None:
        """Write a row into `medley_migration` behind the store's back (raw SQL)."""

    @abstractmethod
    def set_job_times(self, job_id: int, *, run_seconds: float, wait_seconds: float) -> None:
        """Make a finished job's last attempt have run `run_seconds` after waiting
        `wait_seconds` (raw SQL: moves started_at and run_at back from finished_at)."""

    @abstractmethod
    def store_creation_history(self, job_id: int, state: str) -> None:
        """Write the creation row an earlier version stored in a job's history (raw SQL):
        the job then has history from before creation rows were read from the job."""

    @abstractmethod
    def spread_job_ids(self, step: int) -> None:
        """Make ids drawn one after another `step` apart (raw SQL), as when other sessions
        draw ids in between; 1 restores."""

    @abstractmethod
    def _cleanup(self) -> None:
        """Remove databases created by `open_empty_store`."""


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._empty_count = 0

    def _new_store(self) -> JobStore:
        from medley.infrastructure.jobs.storage.sqlite.store import SqliteJobStore

        return SqliteJobStore(self.path)

    def _new_empty_stores(self, count: int) -> list[JobStore]:
        from medley.infrastructure.jobs.storage.sqlite.store import SqliteJobStore

        self._empty_count += 1
        path = self.path.with_name(f"empty_{self._empty_count}.db")
        return [SqliteJobStore(path) for _ in range(count)]

    def unreachable_store(self) -> JobStore:
        from medley.infrastructure.jobs.storage.sqlite.store import SqliteJobStore

        return SqliteJobStore(self.path.with_name("missing-directory") / "medley.db")

    def _cleanup(self) -> None:
        """Empty databases are files under the test's `tmp_path`: nothing to do."""

    def record_migration(self, version: int, name: str) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "INSERT INTO medley_migration (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, time.time()),
            )

    def spread_job_ids(self, step: int) -> None:
        pass  # SQLite draws an id as it inserts the row: a batch's ids are never reserved

    def store_creation_history(self, job_id: int, state: str) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "INSERT INTO medley_job_history"
                " (job_id, at, from_state, to_state, reason, attempt) "
                "SELECT id, created_at, NULL, ?, ?, 0 FROM medley_job WHERE id = ?",
                (state, state, job_id),
            )

    def set_job_times(self, job_id: int, *, run_seconds: float, wait_seconds: float) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "UPDATE medley_job SET started_at = finished_at - ?, run_at = finished_at - ? "
                "WHERE id = ?",
                (run_seconds, run_seconds + wait_seconds, job_id),
            )


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._empty_databases: list[str] = []

    def _new_store(self) -> JobStore:
        from medley.infrastructure.jobs.storage.postgres.store import PostgresJobStore

        return PostgresJobStore(self.url, pool_min=1, pool_max=4)

    def _new_empty_stores(self, count: int) -> list[JobStore]:
        from medley.infrastructure.jobs.storage.postgres.store import PostgresJobStore

        name = postgres.unique_database_name("medley_e")
        url = postgres.create_database(name)
        self._empty_databases.append(name)
        return [PostgresJobStore(url, pool_min=1, pool_max=2) for _ in range(count)]

    def unreachable_store(self) -> JobStore:
        from medley.infrastructure.jobs.storage.postgres.store import PostgresJobStore

        missing = postgres.database_url(postgres.unique_database_name("medley_missing"))
        return PostgresJobStore(missing, pool_min=1, pool_max=1)

    def record_migration(self, version: int, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO medley_migration (version, name, applied_at) VALUES (%s, %s, now())",
                (version, name),
            )

    def store_creation_history(self, job_id: int, state: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO medley_job_history"
                " (job_id, at, from_state, to_state, reason, attempt) "
                "SELECT id, created_at, NULL, %s, %s, 0 FROM medley_job WHERE id = %s",
                (state, state, job_id),
            )

    def spread_job_ids(self, step: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SEQUENCE medley_job_id_seq INCREMENT BY {}").format(step))

    def set_job_times(self, job_id: int, *, run_seconds: float, wait_seconds: float) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE medley_job SET started_at = finished_at - make_interval(secs => %s), "
                "run_at = finished_at - make_interval(secs => %s) WHERE id = %s",
                (run_seconds, run_seconds + wait_seconds, job_id),
            )

    def _cleanup(self) -> None:
        while self._empty_databases:
            postgres.drop_database(self._empty_databases.pop())
