"""Workflows beyond one job: recurring jobs (cron), batches with callbacks. Continuations
are plain job options (`JobOptions.depends_on`, `continue_on`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medley.application.models.jobs import (
    EnqueueRequest,
    EnqueueResult,
    JobOptions,
    JobState,
    JsonValue,
    Progress,
)


class Misfire(StrEnum):
    """What a recurring job does about ticks missed while no worker ran (downtime, or a
    leader change longer than the grace period)."""

    ONCE = "once"
    """One run for all the missed ticks (the default, as Hangfire's)."""
    ALL = "all"
    """One run per missed tick, oldest first (at most 1000 per scheduler pass: a longer
    backlog is worked off over the following passes)."""
    SKIP = "skip"
    """Missed ticks are dropped; only ticks due within the grace period run."""


class RecurringJob(BaseModel):
    """A recurring job to declare: fired once per tick of `cron` in `timezone`, by name.

    `cron` has 5 fields (minute resolution) or 6 (a leading seconds field), or is one of
    `@yearly @annually @monthly @weekly @daily @midnight @hourly`. Ticks are wall-clock
    times of `timezone`: one skipped by a DST jump runs when the clocks resume; one that
    a DST fall-back repeats runs once, unless the expression steps over hours or minutes
    (`*`, `/`), in which case it keeps its rhythm through both passes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    job: str
    cron: str
    timezone: str = "UTC"
    args: tuple[JsonValue, ...] = ()
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    options: JobOptions = Field(default_factory=JobOptions)
    """queue, priority, max_attempts, timeout and tags apply; timing options do not."""
    misfire: Misfire = Misfire.ONCE

    @field_validator("options")
    @classmethod
    def _no_timing(cls, value: JobOptions) -> JobOptions:
        if value.run_at or value.delay or value.depends_on:
            raise ValueError("a recurring job's timing is its cron: no run_at/delay/depends_on")
        return value


class RecurringInfo(BaseModel):
    """A recurring job as stored, with its schedule and the outcome of its last run."""

    model_config = ConfigDict(frozen=True)

    name: str
    job: str
    cron: str
    timezone: str
    args: list[JsonValue]
    kwargs: dict[str, JsonValue]
    queue: str
    misfire: Misfire
    paused: bool
    next_run_at: datetime
    """The next tick (UTC). While paused, the tick the job will skip to when resumed."""
    last_run_at: datetime | None = None
    last_job_id: int | None = None
    last_state: JobState | None = None
    """State of the last job fired (None if never fired, or if that job was pruned)."""
    created_at: datetime


class BatchRequest(BaseModel):
    """Jobs enqueued as one batch. `on_complete` runs once every job is final; `on_success`
    runs if they all succeeded (it is cancelled otherwise). Both receive the summary as
    the keyword argument `batch` (a dict: id, total, succeeded, failed, cancelled)."""

    model_config = ConfigDict(frozen=True)

    jobs: tuple[EnqueueRequest, ...] = Field(min_length=1)
    on_complete: EnqueueRequest | None = None
    on_success: EnqueueRequest | None = None
    description: str | None = None


class BatchResult(BaseModel):
    """The ids of a submitted batch, its jobs (in request order) and its callbacks."""

    model_config = ConfigDict(frozen=True)

    id: int
    jobs: list[EnqueueResult]
    on_complete_id: int | None = None
    on_success_id: int | None = None


class BatchInfo(BaseModel):
    """A batch's progress. `done` counts jobs in a final state; `finished` is set once all
    are (jobs added to the batch while it runs are part of `total`)."""

    model_config = ConfigDict(frozen=True)

    id: int
    description: str | None = None
    total: int
    pending: int
    succeeded: int
    failed: int
    cancelled: int
    progress: Progress
    on_complete_id: int | None = None
    on_success_id: int | None = None
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None
