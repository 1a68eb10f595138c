"""The sync facade (`medley.connect_sync`) from plain code and from a worker's thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import medley
from medley.application.models.jobs import JobState
from tests.integration import jobs
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


def test_sync_enqueue_is_visible_through_get(sqlite_path: Path) -> None:
    with medley.connect_sync(f"sqlite:///{sqlite_path}") as sync:
        job_id = sync.enqueue(jobs.record, "from sync code")
        info = sync.get(job_id)

    assert info.state is JobState.ENQUEUED
    assert info.args == ["from sync code"]
    assert info.job == "it.record"


async def test_sync_facade_enqueues_and_waits_from_a_thread_while_a_worker_runs(
    database_url: str, start_worker: StartWorker
) -> None:
    await start_worker()

    def enqueue_and_wait() -> medley.JobInfo:
        with medley.connect_sync(database_url) as sync:
            return sync.wait(sync.enqueue(jobs.echo, {"k": [1, 2]}), timeout=10)

    info = await asyncio.to_thread(enqueue_and_wait)

    assert info.state is JobState.SUCCEEDED
    assert info.result == {"k": [1, 2]}
