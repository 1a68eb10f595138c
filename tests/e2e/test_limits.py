"""A global concurrency limit holds across worker processes: four `medley worker`
processes hammer one limit of 3, and the jobs themselves record when they ran."""

from __future__ import annotations

from pathlib import Path

import pytest

import medley
from tests.e2e import limit_jobs
from tests.e2e.conftest import MedleyCli
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

IMPORT = ("--import", "tests.e2e.limit_jobs")
JOBS = 60
HOLD_SECONDS = 0.05


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end before a start at the
    same instant: the slot was given back first)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


async def test_four_worker_processes_never_run_more_jobs_of_a_limit_than_it_allows(
    cli: MedleyCli, service: medley.JobService, tmp_path: Path
) -> None:
    record = tmp_path / "runs.txt"
    ids = [
        (
            await service.submit(
                medley.EnqueueRequest(job="e2e.limited_probe", args=(str(record), HOLD_SECONDS))
            )
        ).id
        for _ in range(JOBS)
    ]
    env = {"MEDLEY_POLL_SECONDS": "0.05"}
    workers = [await cli.start("worker", *IMPORT, "--concurrency", "4", env=env) for _ in range(4)]

    async def all_ran() -> bool:
        return record.exists() and len(record.read_text().splitlines()) >= JOBS

    await wait_for(all_ran, timeout=60, message="every limited job ran")

    intervals = [
        (float(a), float(b)) for a, b in (line.split() for line in record.read_text().splitlines())
    ]
    assert len(intervals) == JOBS
    assert most_at_once(intervals) == limit_jobs.LIMIT, [w.log() for w in workers]
    for job_id in ids:
        info = await service.wait(job_id, timeout=10)
        assert info.state is medley.JobState.SUCCEEDED


async def test_limits_set_is_seen_by_list_and_kept_over_the_code_declaration(
    cli: MedleyCli, service: medley.JobService
) -> None:
    assert (await cli.run("migrate")).code == 0

    changed = await cli.run("limits", "set", "e2e-probe", "7")
    listed = await cli.run("limits", "list")

    assert changed.code == 0, changed
    assert "e2e-probe: max 7 running" in changed.stdout
    assert listed.code == 0, listed
    assert "e2e-probe" in listed.stdout
    assert "runtime" in listed.stdout
    worker = await cli.start("worker", *IMPORT)  # declares e2e-probe with max 3 in code

    async def worker_up() -> bool:
        return bool(await service.store.server_list())

    await wait_for(worker_up, timeout=20, message="worker registered")
    [info] = [i for i in await service.limit_list() if i.name == "e2e-probe"]
    assert (info.max_running, info.source) == (7, "runtime"), worker.log()


async def test_limits_rejects_bad_input_with_one_line(cli: MedleyCli) -> None:
    assert (await cli.run("migrate")).code == 0

    negative = await cli.run("limits", "set", "llm", "--", "-1")
    missing = await cli.run("limits", "remove", "nowhere")

    assert negative.code == 2, negative
    assert missing.code == 2, missing
    assert len(missing.stderr.strip().splitlines()) == 1, missing


async def test_limits_set_takes_a_rate_and_a_token_budget(
    cli: MedleyCli, service: medley.JobService
) -> None:
    assert (await cli.run("migrate")).code == 0

    changed = await cli.run(
        "limits",
        "set",
        "e2e-llm",
        "--max-running",
        "3",
        "--rate",
        "60/min",
        "--tokens",
        "40000/min",
    )
    listed = await cli.run("limits", "list")

    assert changed.code == 0, changed
    assert "e2e-llm: max 3 running, 60 starts, 40000 tokens per 60s" in changed.stdout
    assert listed.code == 0, listed
    assert "0/60 per 60s" in listed.stdout
    assert "0/40000 per 60s" in listed.stdout
    [info] = [i for i in await service.limit_list() if i.name == "e2e-llm"]
    assert (info.max_running, info.rate, info.tokens, info.period_seconds) == (3, 60, 40000, 60)


@pytest.mark.parametrize(
    "args",
    [
        ("--rate", "fast"),
        ("--rate", "0/min"),
        ("--tokens", "100/fortnight"),
        ("--max-running", "-1"),
        ("3", "--max-running", "4"),
    ],
)
async def test_limits_set_rejects_a_bad_rate_with_one_line(
    cli: MedleyCli, args: tuple[str, ...]
) -> None:
    assert (await cli.run("migrate")).code == 0

    result = await cli.run("limits", "set", "e2e-bad", *args)

    assert result.code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert "Traceback" not in result.stderr
