"""Request and response bodies of the REST API. Job reads reuse the application's own
models (`JobInfo`, `JobPage`), so the API cannot drift from what the Python API returns."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medley.application.models.jobs import JobState
from medley.application.models.servers import ServerInfo


class EnqueueBody(BaseModel):
    """`POST /api/jobs`: a registered job by name, its arguments and options."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(min_length=1, max_length=500, description="Registered job name")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    delay_seconds: float | None = Field(default=None, ge=0, le=10 * 365 * 86400)
    run_at: datetime | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=1000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=365 * 86400)
    unique_key: str | None = Field(default=None, min_length=1, max_length=500)
    depends_on: list[int] | None = Field(default=None, description="Continuation parents")
    tags: list[str] = Field(default_factory=list, max_length=50)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `JobOptions` (unset fields keep the job's defaults)."""
        values: dict[str, Any] = {
            "queue": self.queue,
            "priority": self.priority,
            "run_at": self.run_at,
            "delay": None if self.delay_seconds is None else timedelta(seconds=self.delay_seconds),
            "max_attempts": self.max_attempts,
            "timeout": None
            if self.timeout_seconds is None
            else timedelta(seconds=self.timeout_seconds),
            "unique_key": self.unique_key,
            "tags": tuple(self.tags),
        }
        if self.depends_on:
            values["depends_on"] = tuple(self.depends_on)
        return values


class EnqueueResponse(BaseModel):
    id: int
    state: JobState
    existing: bool = Field(description="True when a live job already held the unique key")


class ErrorBody(BaseModel):
    """Every error: a stable machine `code` and a human `message`."""

    code: str
    message: str


class QueueBody(BaseModel):
    name: str
    paused: bool
    counts: dict[JobState, int]
    depth: int = Field(description="Jobs enqueued and waiting for a worker")
    oldest_due_age_seconds: float | None = Field(
        description="How long the longest-waiting runnable job has been due"
    )


class ServerBody(ServerInfo):
    """A worker as `JobService.server_list()` sees it, plus what the reader needs to judge
    it: how old its heartbeat is and whether that is within the lease."""

    heartbeat_age_seconds: float
    alive: bool


class MinuteBody(BaseModel):
    minute: datetime
    succeeded: int
    failed: int


class StatsBody(BaseModel):
    counts: dict[JobState, int] = Field(description="Jobs per state (maintained counters)")
    queues: int
    servers_alive: int
    throughput: list[MinuteBody] = Field(description="Finished jobs per minute, last hour")


class ValidationIssue(BaseModel):
    loc: list[str]
    msg: str


class ValidationErrorBody(ErrorBody):
    """A request that does not match the schema: `errors` lists every problem."""

    errors: list[ValidationIssue] = Field(default_factory=list)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid or revoked bearer token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    422: {"model": ValidationErrorBody, "description": "Invalid request or arguments"},
    503: {"model": ErrorBody, "description": "The database cannot be reached"},
}
