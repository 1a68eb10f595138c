"""`medley stats`: throughput, latency percentiles and failure rate per job over a window,
computed by the database from the stored jobs (one query; see `stat_job_performance`).

Succeeded jobs are pruned after `MEDLEY_RETENTION_SECONDS` (a day by default), so a
longer window sees only what retention kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from medley.application.models.observability import JobStats, StatsReport
from medley.infrastructure.jobs.storage.port import (
    JobPerformanceRow,
    JobStore,
    StatWindowParams,
)


def job_stats(row: JobPerformanceRow, window: timedelta) -> JobStats:
    finished = row.succeeded + row.failed + row.cancelled
    decided = row.succeeded + row.failed
    return JobStats(
        job=row.job,
        finished=finished,
        succeeded=row.succeeded,
        failed=row.failed,
        cancelled=row.cancelled,
        retries=row.retries,
        throughput_per_minute=finished / (window.total_seconds() / 60),
        failure_rate=row.failed / decided if decided else None,
        run_p50=row.run_p50,
        run_p95=row.run_p95,
        run_p99=row.run_p99,
        run_max=row.run_max,
        wait_p50=row.wait_p50,
        wait_p95=row.wait_p95,
    )


async def collect_stats(
    store: JobStore,
    window: timedelta,
    *,
    job: str | None = None,
    queue: str | None = None,
    now: datetime | None = None,
) -> StatsReport:
    if window <= timedelta(0):
        raise ValueError("the stats window must be positive")
    until = now or datetime.now(UTC)
    since = until - window
    rows = await store.stat_job_performance(StatWindowParams(since=since, job=job, queue=queue))
    return StatsReport(
        since=since,
        until=until,
        window_seconds=window.total_seconds(),
        jobs=[job_stats(row, window) for row in rows],
    )
