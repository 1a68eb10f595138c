"""`medley recurring list|add|trigger|pause|resume|remove` against a real database."""

from __future__ import annotations

import pytest

import medley
from tests.e2e.conftest import MedleyCli

pytestmark = pytest.mark.e2e


async def test_recurring_commands_manage_a_recurring_job(
    cli: MedleyCli, service: medley.JobService
) -> None:
    added = await cli.run(
        "recurring", "add", "nightly", "e2e.add", "--cron", "30 2 * * *",
        "--timezone", "Europe/Berlin", "--args", "[2, 3]", "--import", "tests.e2e.jobs",
    )  # fmt: skip
    assert added.code == 0, added
    assert "nightly: next run" in added.stdout

    triggered = await cli.run("recurring", "trigger", "nightly")
    paused = await cli.run("recurring", "pause", "nightly")
    listed = await cli.run("recurring", "list")

    assert triggered.code == 0, triggered
    job_id = int(triggered.stdout.split()[0])
    assert (await service.get(job_id)).args == [2, 3]
    assert paused.code == 0, paused
    row = next(line for line in listed.stdout.splitlines() if "nightly" in line)
    assert "(paused)" in row, listed
    assert "30 2 * * *" in row, listed
    assert "enqueued" in row, listed
    assert (await cli.run("recurring", "resume", "nightly")).code == 0
    assert (await cli.run("recurring", "remove", "nightly")).code == 0
    assert await service.recurring_list() == []


async def test_recurring_commands_fail_in_one_line(cli: MedleyCli) -> None:
    missing = await cli.run("recurring", "trigger", "nope")
    bad_cron = await cli.run(
        "recurring", "add", "x", "e2e.add", "--cron", "0 3 * *", "--import", "tests.e2e.jobs"
    )

    for result, message in ((missing, "recurring job 'nope' not found"), (bad_cron, "4 fields")):
        assert result.code == 2, result
        assert message in result.stderr, result
        assert len(result.stderr.strip().splitlines()) == 1, result
        assert "Traceback" not in result.stderr
