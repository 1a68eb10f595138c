"""Counting outcomes and rendering the cluster gauges, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    LimitRow,
    QueueHeadRow,
    ServerRow,
    StateCount,
)
from medley.infrastructure.observability.metrics import (
    ClusterSnapshot,
    JobMetrics,
    exposition,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def completion(job_id: int, state: JobState, **fields: object) -> JobCompletion:
    values: dict[str, object] = {
        "id": job_id,
        "attempt": 1,
        "state": state,
        "reason": StateChangeReason.COMPLETED,
        "job": "app.extract",
        "queue": "ai",
        "duration": 0.2,
    }
    values.update(fields)
    return JobCompletion(**values)  # type: ignore[arg-type]  # test data


def value(metrics: JobMetrics, name: str, **labels: str) -> float:
    return (
        metrics.registry.get_sample_value(name, {"job": "app.extract", "queue": "ai", **labels})
        or 0.0
    )


def test_written_outcomes_are_counted_by_kind() -> None:
    metrics = JobMetrics()
    batch = [
        completion(1, JobState.SUCCEEDED),
        completion(2, JobState.FAILED, error={"type": "E"}),
        completion(3, JobState.SCHEDULED, error={"type": "E"}, run_at=NOW),
        completion(4, JobState.CANCELLED),
        completion(5, JobState.SCHEDULED, release=True, run_at=NOW),  # snoozed
        completion(6, JobState.ENQUEUED, release=True),  # given back at shutdown
        completion(7, JobState.SUCCEEDED),  # fenced off: not written
    ]

    metrics.outcomes_written(batch, written={1, 2, 3, 4, 5, 6})

    assert value(metrics, "medley_jobs_succeeded_total") == 1
    assert value(metrics, "medley_jobs_failed_total") == 1
    assert value(metrics, "medley_jobs_retried_total") == 1
    assert value(metrics, "medley_jobs_cancelled_total") == 1
    assert value(metrics, "medley_job_run_duration_seconds_count", outcome="succeeded") == 1
    assert value(metrics, "medley_job_run_duration_seconds_sum", outcome="retried") == 0.2


def snapshot() -> ClusterSnapshot:
    def server(name: str, silent: float, running: int, throttled: bool = False) -> ServerRow:
        return ServerRow(
            slots={"ai": {"busy": running, "max": 4}, "default": {"busy": 0, "max": 4}},
            id=name,
            hostname="h",
            pid=1,
            queues=["ai"],
            concurrency=4,
            running=running,
            cpu_percent=0,
            rss_bytes=0,
            started_at=NOW,
            heartbeat_at=NOW - timedelta(seconds=silent),
            throttled=throttled,
        )

    return ClusterSnapshot(
        counts=[StateCount("ai", JobState.ENQUEUED, 5), StateCount("ai", JobState.FAILED, 2)],
        heads=[QueueHeadRow(queue="ai", oldest_due_at=NOW - timedelta(seconds=90))],
        servers=[
            server("a", 1, 3),
            server("b", 5, 1, throttled=True),
            server("dead", 600, 4, throttled=True),
        ],
        limits=[
            LimitRow(
                name="llm", max_running=3, source="code", running=2, busy_keys=1, updated_at=NOW
            ),
            LimitRow(
                name="api",
                max_running=None,
                source="runtime",
                running=0,
                busy_keys=0,
                updated_at=NOW,
                rate=60,
                tokens=90_000,
                period_seconds=60,
                blocked_until=NOW + timedelta(seconds=12),
                starts_used=7.5,
                tokens_used=1_200,
            ),
        ],
        lease_seconds=60,
        taken_at=NOW,
        duration=0.004,
    )


def test_exposition_renders_the_cluster_gauges() -> None:
    text = exposition(JobMetrics().registry, snapshot()).decode()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("medley_jobs", (("queue", "ai"), ("state", "enqueued")))] == 5
    assert samples[("medley_jobs", (("queue", "ai"), ("state", "failed")))] == 2
    assert samples[("medley_jobs", (("queue", "ai"), ("state", "succeeded")))] == 0
    assert samples[("medley_queue_oldest_job_age_seconds", (("queue", "ai"),))] == 90
    assert samples[("medley_workers_alive", ())] == 2
    assert samples[("medley_worker_slots_busy", ())] == 4
    assert samples[("medley_worker_slots", ())] == 8
    assert samples[("medley_workers_throttled", ())] == 1  # the dead one is not counted
    assert samples[("medley_limit_running", (("limit", "llm"),))] == 2
    assert samples[("medley_limit_max_running", (("limit", "llm"),))] == 3
    assert ("medley_limit_max_running", (("limit", "api"),)) not in samples  # rate only


def test_exposition_renders_rates_budgets_and_queue_slots() -> None:
    text = exposition(JobMetrics().registry, snapshot()).decode()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    api = (("limit", "api"),)
    assert samples[("medley_limit_rate", api)] == 60
    assert samples[("medley_limit_starts_used", api)] == 7.5
    assert samples[("medley_limit_tokens", api)] == 90_000
    assert samples[("medley_limit_tokens_used", api)] == 1_200
    assert samples[("medley_limit_period_seconds", api)] == 60
    assert samples[("medley_limit_blocked_seconds", api)] == 12
    llm = (("limit", "llm"),)  # a cap only: no rate or budget series, not blocked
    assert ("medley_limit_rate", llm) not in samples
    assert ("medley_limit_tokens", llm) not in samples
    assert samples[("medley_limit_blocked_seconds", llm)] == 0
    # Summed over the two live workers (the dead one is left out).
    assert samples[("medley_queue_slots_busy", (("queue", "ai"),))] == 4
    assert samples[("medley_queue_slots_max", (("queue", "ai"),))] == 8
    assert samples[("medley_queue_slots_busy", (("queue", "default"),))] == 0
    assert samples[("medley_queue_slots_max", (("queue", "default"),))] == 8


def test_exposition_without_a_snapshot_has_only_events() -> None:
    metrics = JobMetrics()
    metrics.job_cancelled("app.extract", "ai")

    text = exposition(metrics.registry, None).decode()

    assert 'medley_jobs_cancelled_total{job="app.extract",queue="ai"} 1.0' in text
    assert "medley_workers_alive" not in text
