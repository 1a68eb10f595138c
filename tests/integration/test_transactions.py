"""Enqueue inside the caller's own transaction: the job exists iff the caller commits."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow

import medley
from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.runtime.server import WorkerServer
from tests.integration import jobs
from tests.support.workers import fast_config

pytestmark = pytest.mark.integration


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


def request(value: str) -> medley.EnqueueRequest:
    return medley.EnqueueRequest(job="it.record", args=(value,))


@pytest.fixture
async def pg_service(pg_url: str) -> AsyncIterator[medley.JobService]:
    svc = await medley.connect_async(pg_url, auto_migrate=True)
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def pg_connection(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
    conn = await psycopg.AsyncConnection.connect(pg_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def sqlite_service(sqlite_path: Path) -> AsyncIterator[medley.JobService]:
    svc = await medley.connect_async(f"sqlite:///{sqlite_path}", auto_migrate=True)
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
def sqlite_connection(
    sqlite_service: medley.JobService, sqlite_path: Path
) -> Iterator[sqlite3.Connection]:
    """The caller's own connection, opened after the schema exists."""
    with closing(sqlite3.connect(sqlite_path, isolation_level=None)) as conn:
        yield conn


async def test_postgres_job_enqueued_in_a_committed_transaction_exists_and_runs(
    pg_service: medley.JobService, pg_connection: psycopg.AsyncConnection[TupleRow]
) -> None:
    async with pg_connection.transaction():
        await pg_connection.execute("SELECT 1")  # the caller's own work
        result = await pg_service.submit(request("committed"), connection=pg_connection)
        assert result.state is JobState.ENQUEUED

    assert (await pg_service.get(result.id)).state is JobState.ENQUEUED
    server = WorkerServer(pg_service.store, config=fast_config("postgres"))
    await server.start()
    try:
        info = await pg_service.wait(result.id, timeout=10)
    finally:
        await server.stop(grace=0.5)
    assert info.state is JobState.SUCCEEDED
    assert jobs.calls == ["committed"]


async def test_postgres_job_enqueued_in_a_rolled_back_transaction_does_not_exist(
    pg_service: medley.JobService, pg_connection: psycopg.AsyncConnection[TupleRow]
) -> None:
    with contextlib.suppress(Rollback):  # the caller's error rolls its transaction back
        async with pg_connection.transaction():
            result = await pg_service.submit(request("rolled back"), connection=pg_connection)
            raise Rollback

    with pytest.raises(medley.JobNotFoundError):
        await pg_service.get(result.id)
    assert await pg_service.store.job_count_by_state() == []


async def test_sqlite_job_enqueued_in_a_committed_transaction_exists(
    sqlite_service: medley.JobService, sqlite_connection: sqlite3.Connection
) -> None:
    sqlite_connection.execute("BEGIN")
    result = await sqlite_service.submit(request("committed"), connection=sqlite_connection)
    sqlite_connection.execute("COMMIT")

    info = await sqlite_service.get(result.id)
    assert info.state is JobState.ENQUEUED
    assert info.args == ["committed"]


async def test_sqlite_job_enqueued_in_a_rolled_back_transaction_does_not_exist(
    sqlite_service: medley.JobService, sqlite_connection: sqlite3.Connection
) -> None:
    sqlite_connection.execute("BEGIN")
    result = await sqlite_service.submit(request("rolled back"), connection=sqlite_connection)
    sqlite_connection.execute("ROLLBACK")

    with pytest.raises(medley.JobNotFoundError):
        await sqlite_service.get(result.id)
    assert await sqlite_service.store.job_count_by_state() == []
