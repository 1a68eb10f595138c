"""Fixtures of the AI pipeline's tests: a database URL per backend (migrated, with the
0005 tables), the repository on it, a job service, a worker, and the AI runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from medley.infrastructure.ai import runtime as ai
from medley.infrastructure.ai.hashing import HashingEmbedder
from medley.infrastructure.ai.repository import FragmentRepository, create_repository
from medley.infrastructure.ai.runtime import AiConfig, AiRuntime
from medley.infrastructure.jobs.runtime.server import WorkerServer
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect_async
from tests.support.workers import StartWorker, fast_config

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def ai_backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_url(ai_backend: str, request: pytest.FixtureRequest) -> str:
    """A fresh database of this test's own: an SQLite file, or a copy of the migrated
    PostgreSQL template."""
    if ai_backend == "sqlite":
        path: Path = request.getfixturevalue("tmp_path") / "medley.db"
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[JobService]:
    """A migrated job service on the test database."""
    opened = await connect_async(database_url, auto_migrate=True)
    yield opened
    await opened.close()


@pytest.fixture
async def repository(service: JobService, database_url: str) -> AsyncIterator[FragmentRepository]:
    """The AI repository on the same (migrated) database as `service`."""
    repo = create_repository(database_url)
    await repo.open()
    yield repo
    await repo.close()


@pytest.fixture
def ai_config() -> AiConfig:
    """Small chunks, so that even short test documents fan out into several jobs."""
    return AiConfig(embedder="hashed", fragments_per_job=2, model_batch=2)


@pytest.fixture
async def ai_runtime(
    service: JobService, database_url: str, ai_config: AiConfig
) -> AsyncIterator[AiRuntime]:
    """The AI runtime of this process, configured on the test database with the hashed
    embedder (instant; the model has its own tests)."""
    ai.configure(database_url, service, ai_config, embedder=HashingEmbedder())
    try:
        yield await ai.runtime()
    finally:
        await ai.shutdown()


@pytest.fixture
async def worker_factory(service: JobService, ai_backend: str) -> AsyncIterator[StartWorker]:
    """`await start(**config)` -> a started in-process worker on queues ai and default;
    every worker started is stopped at teardown."""
    started: list[WorkerServer] = []

    async def start(**overrides: Any) -> WorkerServer:
        config = fast_config(ai_backend, **{"queues": ("ai", "default"), **overrides})
        server = WorkerServer(service.store, service.registry, config)
        service.on_enqueued.append(server.wake)
        service.on_cancel_requested.append(server.producer.request_cancel)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
