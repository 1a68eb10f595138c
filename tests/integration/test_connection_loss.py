"""PostgreSQL connections die (server restart, pg_terminate_backend): the worker survives,
reconnects, and no job is lost or reported done without its outcome written."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

import medley
from medley.application.models.jobs import JobState
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

started: list[int] = []


@medley.job(name="it.connloss.work")
async def work(i: int) -> int:
    started.append(i)
    await asyncio.sleep(0.05)
    return i


def _terminate_other_backends(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("backend_name", ["postgres"], indirect=True)
async def test_worker_survives_terminated_connections_mid_run(
    service: medley.JobService, start_worker: StartWorker, database_url: str
) -> None:
    started.clear()
    await start_worker(concurrency=5)
    requests = [medley.EnqueueRequest(job="it.connloss.work", args=(i,)) for i in range(60)]
    ids = [r.id for r in await service.submit_many(requests)]

    for _ in range(3):
        before = len(started)
        await wait_for(lambda b=before: len(started) > b + 5, timeout=20, message="jobs running")
        killed = await asyncio.to_thread(_terminate_other_backends, database_url)
        assert killed > 0

    async def all_final() -> bool:
        try:
            page = await service.list(medley.JobFilter(state=JobState.SUCCEEDED), limit=100)
        except medley.StorageUnavailableError:
            return False
        return len(page.items) == len(ids)

    await wait_for(all_final, timeout=60, message="every job succeeded after reconnects")
    for job_id in ids:
        info = await service.get(job_id)
        assert info.state is JobState.SUCCEEDED
        assert info.result == info.args[0]
