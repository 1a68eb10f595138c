"""Read models of observability: a job's stored log lines, health reports, performance
statistics. Shared by the API, the CLI and the dashboard."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class JobLogLine(BaseModel):
    """One stored log line of a job."""

    model_config = ConfigDict(frozen=True)

    seq: int
    """The line's number among every line the job logged (dropped ones included)."""
    attempt: int
    at: datetime
    level: str
    logger: str
    message: str


class JobLogs(BaseModel):
    """A job's stored log lines, oldest first. `dropped` older lines were deleted to stay
    within the bounds (shown as a marker before the first line)."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    dropped: int = 0
    lines: list[JobLogLine] = Field(default_factory=list)
    next_after: int | None = None
    """Pass as `after` to read the lines that follow (None: no more for now)."""


class HealthStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    """Not evaluated: disabled, or impossible because an earlier check failed."""


class HealthCheck(BaseModel):
    """One readiness condition: its status, the figure measured and the limit it met."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: HealthStatus
    figure: float | int | str | None = None
    limit: float | int | None = None
    message: str = ""


class HealthReport(BaseModel):
    """`pass` only if no check failed."""

    model_config = ConfigDict(frozen=True)

    status: HealthStatus
    checks: list[HealthCheck]

    @classmethod
    def of(cls, checks: list[HealthCheck]) -> HealthReport:
        failed = any(c.status is HealthStatus.FAIL for c in checks)
        return cls(status=HealthStatus.FAIL if failed else HealthStatus.PASS, checks=checks)

    @property
    def ok(self) -> bool:
        return self.status is HealthStatus.PASS


class JobStats(BaseModel):
    """Performance of one job name over a window, from the jobs that finished in it."""

    model_config = ConfigDict(frozen=True)

    job: str
    finished: int
    succeeded: int
    failed: int
    cancelled: int
    retries: int
    """Attempts beyond the first."""
    throughput_per_minute: float
    """Finished jobs per minute over the window."""
    failure_rate: float | None
    """failed / (succeeded + failed); None when neither happened."""
    run_p50: float | None = None
    run_p95: float | None = None
    run_p99: float | None = None
    run_max: float | None = None
    """Seconds of the last attempt of succeeded jobs."""
    wait_p50: float | None = None
    wait_p95: float | None = None
    """Seconds from runnable to start."""


class StatsReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime
    window_seconds: float
    jobs: list[JobStats]
