"""`medley jobs list|show|cancel|retry|delete` on jobs no worker is running."""

from __future__ import annotations

import json

import pytest

import medley
from tests.e2e.conftest import MedleyCli

pytestmark = pytest.mark.e2e


async def test_jobs_list_and_show_report_a_job(cli: MedleyCli, service: medley.JobService) -> None:
    job_id = await service.enqueue("e2e.add", 2, 3)

    listed = await cli.run("jobs", "list", "--state", "enqueued", "--job", "e2e.add")
    shown = await cli.run("jobs", "show", str(job_id))

    assert listed.code == 0, listed
    row = next(line for line in listed.stdout.splitlines() if f" {job_id} " in line)
    assert "e2e.add" in row, listed
    assert "enqueued" in row, listed
    assert shown.code == 0, shown
    info = json.loads(shown.stdout)
    assert (info["id"], info["job"], info["state"], info["args"]) == (
        job_id,
        "e2e.add",
        "enqueued",
        [2, 3],
    )
    assert [h["to_state"] for h in info["history"]] == ["enqueued"]


async def test_jobs_cancel_retry_delete_walk_a_job_through_its_states(
    cli: MedleyCli, service: medley.JobService
) -> None:
    job_id = await service.enqueue("e2e.add", 2, 3)

    cancelled = await cli.run("jobs", "cancel", str(job_id))
    assert cancelled.code == 0, cancelled
    assert f"job {job_id}: cancelled" in cancelled.stdout
    assert (await service.get(job_id)).state is medley.JobState.CANCELLED

    retried = await cli.run("jobs", "retry", str(job_id))
    assert retried.code == 0, retried
    assert f"job {job_id}: enqueued" in retried.stdout
    assert (await service.get(job_id)).state is medley.JobState.ENQUEUED

    deleted = await cli.run("jobs", "delete", str(job_id))
    assert deleted.code == 0, deleted
    assert f"job {job_id}: deleted" in deleted.stdout
    with pytest.raises(medley.JobNotFoundError):
        await service.get(job_id)


async def test_jobs_retry_refuses_a_job_that_is_not_failed_or_cancelled(
    cli: MedleyCli, service: medley.JobService
) -> None:
    job_id = await service.enqueue("e2e.add", 2, 3)

    result = await cli.run("jobs", "retry", str(job_id))

    assert result.code == 2, result
    assert result.stderr.strip().splitlines() == [
        f"error: job {job_id} is enqueued: it cannot become enqueued"
    ], result
