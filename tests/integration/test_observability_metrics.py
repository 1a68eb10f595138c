"""Metrics after a known workload: event counters and histograms of the processes that saw
the events, and cluster gauges read from the database, served at /metrics."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

import medley
from medley.application.models.jobs import JobOptions, JobState
from medley.config import Settings
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.observability.metrics import DEFAULT_METRICS
from medley.web.api import metrics as metrics_api
from tests.integration import observability_jobs as jobs
from tests.support.http import serve
from tests.support.jobs import claim, insert_job, utcnow
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

Labels = dict[str, str]


def sample(name: str, **labels: str) -> float:
    value = DEFAULT_METRICS.registry.get_sample_value(name, labels)
    return value or 0.0


class Deltas:
    """Counter values relative to when the test started (the registry is per process)."""

    def __init__(self, *series: tuple[str, Labels]) -> None:
        self.start = {
            (name, tuple(sorted(labels.items()))): sample(name, **labels) for name, labels in series
        }

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return sample(name, **labels) - self.start[key]


def job(name: str) -> Labels:
    return {"job": name, "queue": "default"}


SERIES = [
    (metric, job(name))
    for metric in (
        "medley_jobs_enqueued_total",
        "medley_jobs_succeeded_total",
        "medley_jobs_failed_total",
        "medley_jobs_retried_total",
        "medley_jobs_cancelled_total",
        "medley_jobs_rescued_total",
        "medley_job_queue_wait_seconds_count",
    )
    for name in ("obs.noop", "obs.fails", "obs.flaky")
] + [
    ("medley_job_run_duration_seconds_count", {**job("obs.noop"), "outcome": "succeeded"}),
    ("medley_job_run_duration_seconds_count", {**job("obs.fails"), "outcome": "failed"}),
    ("medley_job_run_duration_seconds_count", {**job("obs.flaky"), "outcome": "retried"}),
]


async def test_counters_and_histograms_after_a_known_workload(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    delta = Deltas(*SERIES)
    await start_worker()
    ids = [await service.enqueue(jobs.noop) for _ in range(5)]
    ids += [await service.enqueue(jobs.fails) for _ in range(2)]
    ids.append(await service.enqueue(jobs.flaky))
    later = await service.enqueue_with(jobs.noop, options=JobOptions(delay=timedelta(hours=1)))
    await service.cancel(later)
    for job_id in ids:
        await service.wait(job_id, timeout=10)

    await wait_for(lambda: delta("medley_jobs_succeeded_total", **job("obs.flaky")) == 1)
    await wait_for(lambda: delta("medley_jobs_failed_total", **job("obs.fails")) == 2)
    await wait_for(lambda: delta("medley_jobs_succeeded_total", **job("obs.noop")) == 5)
    assert delta("medley_jobs_enqueued_total", **job("obs.noop")) == 6
    assert delta("medley_jobs_enqueued_total", **job("obs.fails")) == 2
    assert delta("medley_jobs_enqueued_total", **job("obs.flaky")) == 1
    assert delta("medley_jobs_retried_total", **job("obs.flaky")) == 1
    assert delta("medley_jobs_retried_total", **job("obs.noop")) == 0
    assert delta("medley_jobs_failed_total", **job("obs.flaky")) == 0
    assert delta("medley_jobs_cancelled_total", **job("obs.noop")) == 1
    assert delta("medley_job_queue_wait_seconds_count", **job("obs.noop")) == 5
    assert delta("medley_job_queue_wait_seconds_count", **job("obs.flaky")) == 2
    duration = "medley_job_run_duration_seconds_count"
    assert delta(duration, **job("obs.noop"), outcome="succeeded") == 5
    assert delta(duration, **job("obs.fails"), outcome="failed") == 2
    assert delta(duration, **job("obs.flaky"), outcome="retried") == 1


async def test_a_second_cancel_of_a_cancelled_job_is_not_counted(
    service: medley.JobService,
) -> None:
    delta = Deltas(*SERIES)
    later = await service.enqueue_with(jobs.noop, options=JobOptions(delay=timedelta(hours=1)))

    await service.cancel(later)
    await service.cancel(later)

    assert delta("medley_jobs_cancelled_total", **job("obs.noop")) == 1


async def test_rescued_jobs_are_counted_by_the_rescuer(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    delta = Deltas(*SERIES)
    worker = await start_worker(queues=["elsewhere"])
    await insert_job(service.store, job="obs.noop")
    await claim(service.store, worker_id="a-worker-that-died")

    await worker.rescuer.run_once()  # or the leader's own pass got there first: once either way

    await wait_for(lambda: delta("medley_jobs_rescued_total", **job("obs.noop")) == 1)
    assert delta("medley_jobs_rescued_total", **job("obs.noop")) == 1


def metrics_app(service: medley.JobService) -> FastAPI:
    app = FastAPI()
    app.state.service = service
    app.state.settings = Settings(lease_seconds=5.0, heartbeat_seconds=1.0)
    app.include_router(metrics_api.router)
    return app


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_endpoint_serves_counters_and_gauges_from_the_database(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    for job_id in [await service.enqueue(jobs.noop) for _ in range(3)]:
        await service.wait(job_id, timeout=10)
    await insert_job(
        service.store, job="obs.noop", queue="idle", run_at=utcnow() - timedelta(hours=1)
    )

    async with serve(metrics_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = scrape(response.text)

    def state(queue: str, name: str) -> float:
        return values[("medley_jobs", (("queue", queue), ("state", name)))]

    assert state("default", "succeeded") == 3
    assert state("default", "failed") == 0
    assert state("idle", "enqueued") == 1
    assert values[("medley_workers_alive", ())] == 1
    assert values[("medley_worker_slots", ())] == 20
    assert values[("medley_worker_slots_busy", ())] == 0
    age = values[("medley_queue_oldest_job_age_seconds", (("queue", "idle"),))]
    assert 3590 < age < 3700
    assert values[("medley_queue_oldest_job_age_seconds", (("queue", "default"),))] == 0
    enqueued = ("medley_jobs_enqueued_total", (("job", "obs.noop"), ("queue", "default")))
    assert values[enqueued] >= 3


async def test_metrics_show_rates_budgets_and_queue_slots(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(queues=("ai:3", "default:5"), concurrency=8)
    for job_id in [await service.enqueue(jobs.rated) for _ in range(2)]:
        await service.wait(job_id, timeout=10)

    async with serve(metrics_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        values = scrape((await client.get("/metrics")).text)

    api = (("limit", "obs-api"),)
    assert values[("medley_limit_rate", api)] == 60
    assert values[("medley_limit_tokens", api)] == 10_000
    assert values[("medley_limit_period_seconds", api)] == 3600
    # Two starts and 2 x 400 tokens taken; a little has refilled since (1/60 start and
    # 2.8 tokens a second).
    assert 1.8 < values[("medley_limit_starts_used", api)] <= 2
    assert 750 < values[("medley_limit_tokens_used", api)] <= 800
    assert values[("medley_limit_blocked_seconds", api)] == 0
    assert values[("medley_queue_slots_max", (("queue", "ai"),))] == 3
    assert values[("medley_queue_slots_max", (("queue", "default"),))] == 5
    assert values[("medley_queue_slots_busy", (("queue", "default"),))] == 0


async def test_metrics_snapshot_costs_four_small_queries(
    service: medley.JobService, store_calls: list[str]
) -> None:
    from medley.infrastructure.observability.metrics import take_snapshot

    await take_snapshot(service.store, lease_seconds=5)

    assert store_calls == ["stat_count_by_state", "stat_queue_heads", "server_list", "limit_list"]


@pytest.fixture
def store_calls(service: medley.JobService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the store methods called, in order."""
    calls: list[str] = []
    store: JobStore = service.store
    names = ("stat_count_by_state", "stat_queue_heads", "server_list", "limit_list")
    for name in (*names, "job_count_by_state"):
        original = getattr(store, name)

        def recording(*args: object, _name: str = name, _original: object = original) -> object:
            calls.append(_name)
            return _original(*args)  # type: ignore[operator]  # the store's own method

        monkeypatch.setattr(store, name, recording)
    return calls


async def test_jobs_states_are_zero_filled_for_every_known_queue(
    service: medley.JobService,
) -> None:
    await insert_job(service.store, job="obs.noop", state=JobState.ENQUEUED)

    async with serve(metrics_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        values = scrape((await client.get("/metrics")).text)

    states = {
        dict(labels)["state"]: v for (name, labels), v in values.items() if name == "medley_jobs"
    }
    assert states == {s.value: (1 if s is JobState.ENQUEUED else 0) for s in JobState}
