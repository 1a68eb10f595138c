"""Fixtures for the real worker runtime on both backends.

`service` is a `JobService` on a fresh database, once per backend (`[sqlite]`,
`[postgres]`); `start_worker(...)` starts `WorkerServer`s on it with intervals small
enough for tests, and every server is stopped before the service closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import medley
from medley.infrastructure.jobs.runtime.server import WorkerServer
from tests.integration import jobs
from tests.support.workers import StartWorker, fast_config


@pytest.fixture(autouse=True)
def _reset_jobs() -> Iterator[None]:
    jobs.reset()
    yield
    jobs.reset()


@pytest.fixture
def database_url(backend_name: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty-or-migrated database URL of this test's own, per backend. Database
    fixtures are resolved here, outside the event loop."""
    if backend_name == "sqlite":
        path: Path = request.getfixturevalue("sqlite_path")
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[medley.JobService]:
    svc = await medley.connect_async(database_url, auto_migrate=True)
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def start_worker(service: medley.JobService, backend_name: str) -> AsyncIterator[StartWorker]:
    """`await start_worker(cpu_processes=1, ...)`: a started `WorkerServer` on `service`'s
    database, woken by the service's own enqueues; stopped at teardown. `sampler=` is
    passed to the server (see `runtime/throttle.py`), the rest to `fast_config`."""
    servers: list[WorkerServer] = []
    wakers: list[Callable[[set[str]], None]] = []

    async def start(**config: Any) -> WorkerServer:
        sampler = config.pop("sampler", None)  # a throttling test's resource readings
        server = WorkerServer(
            service.store, config=fast_config(backend_name, **config), sampler=sampler
        )
        servers.append(server)
        await server.start()
        service.on_enqueued.append(server.wake)
        service.on_cancel_requested.append(server.producer.request_cancel)
        wakers.append(server.wake)
        return server

    try:
        yield start
    finally:
        for waker in wakers:
            service.on_enqueued.remove(waker)
        service.on_cancel_requested.clear()
        for server in servers:
            await server.stop(grace=0.5)
