"""The readiness rules as pure functions of their figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medley.application.models.jobs import JobState
from medley.application.models.observability import HealthCheck, HealthReport, HealthStatus
from medley.infrastructure.jobs.storage.port import QueueHeadRow, ServerRow, ThroughputRow
from medley.infrastructure.observability.health import (
    HealthConfig,
    dead_letter_check,
    liveness,
    queue_lag_check,
    workers_check,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CONFIG = HealthConfig(lease_seconds=60, max_queue_age_seconds=300, max_dead_letter_growth=5)


def server(silent_seconds: float) -> ServerRow:
    return ServerRow(
        id=f"w{silent_seconds}",
        hostname="h",
        pid=1,
        queues=["default"],
        concurrency=1,
        running=0,
        cpu_percent=0,
        rss_bytes=0,
        started_at=NOW,
        heartbeat_at=NOW - timedelta(seconds=silent_seconds),
    )


def test_workers_pass_with_one_fresh_heartbeat() -> None:
    check = workers_check([server(70), server(10)], NOW, CONFIG)

    assert (check.status, check.figure) == (HealthStatus.PASS, 1)


def test_workers_fail_when_every_heartbeat_is_stale() -> None:
    check = workers_check([server(61)], NOW, CONFIG)

    assert (check.status, check.figure) == (HealthStatus.FAIL, 0)


def test_workers_are_skipped_when_not_expected() -> None:
    check = workers_check([], NOW, HealthConfig(expect_workers=False))

    assert check.status is HealthStatus.SKIP


def head(queue: str, waited: float | None) -> QueueHeadRow:
    due = None if waited is None else NOW - timedelta(seconds=waited)
    return QueueHeadRow(queue=queue, oldest_due_at=due)


def test_queue_lag_names_the_worst_queue() -> None:
    check = queue_lag_check([head("a", 10), head("b", 301), head("c", None)], NOW, CONFIG)

    assert (check.status, check.figure, check.limit) == (HealthStatus.FAIL, 301, 300)
    assert "'b'" in check.message


def test_queue_lag_passes_within_the_limit_and_with_nothing_due() -> None:
    assert queue_lag_check([head("a", 300)], NOW, CONFIG).status is HealthStatus.PASS
    assert queue_lag_check([head("a", None)], NOW, CONFIG).figure == 0


def test_queue_lag_is_skipped_when_disabled() -> None:
    check = queue_lag_check([head("a", 10_000)], NOW, HealthConfig(max_queue_age_seconds=0))

    assert check.status is HealthStatus.SKIP


def test_dead_letter_counts_only_failed_jobs() -> None:
    rows = [
        ThroughputRow(minute=NOW, state=JobState.FAILED, count=4),
        ThroughputRow(minute=NOW, state=JobState.SUCCEEDED, count=100),
        ThroughputRow(minute=NOW - timedelta(minutes=1), state=JobState.FAILED, count=2),
    ]

    check = dead_letter_check(rows, CONFIG)

    assert (check.status, check.figure, check.limit) == (HealthStatus.FAIL, 6, 5)


def test_report_fails_if_any_check_fails_and_skips_do_not_count() -> None:
    passing = HealthCheck(name="a", status=HealthStatus.PASS)
    skipped = HealthCheck(name="b", status=HealthStatus.SKIP)
    failing = HealthCheck(name="c", status=HealthStatus.FAIL)

    assert HealthReport.of([passing, skipped]).ok
    assert not HealthReport.of([passing, failing]).ok
    assert liveness().ok


@pytest.mark.parametrize(
    "bad",
    [{"timeout_seconds": 0}, {"max_queue_age_seconds": -1}, {"dead_letter_window_seconds": 0}],
)
def test_health_config_refuses_bad_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"health|dead-letter"):
        HealthConfig(**bad)  # type: ignore[arg-type]  # only the float fields are given
