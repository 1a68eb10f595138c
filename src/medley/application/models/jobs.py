"""The job model: states, options, and the read model callers see."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

JsonValue = Any
"""A value that survives a JSON round trip; checked when a job is enqueued."""


class JobState(StrEnum):
    """The states of a job. The strings are a contract (API, dashboard, database)."""

    SCHEDULED = "scheduled"
    ENQUEUED = "enqueued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    AWAITING = "awaiting"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
LIVE_STATES = frozenset(
    {JobState.SCHEDULED, JobState.ENQUEUED, JobState.PROCESSING, JobState.AWAITING}
)


class StateChangeReason(StrEnum):
    """Why a job changed state; recorded in the history with every transition."""

    ENQUEUED = "enqueued"
    SCHEDULED = "scheduled"
    FETCHED = "fetched"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"
    RESCUED = "rescued"
    TIMED_OUT = "timed_out"
    RELEASED = "released"
    SNOOZED = "snoozed"
    RETRIED_BY_USER = "retried_by_user"
    CONTINUED = "continued"
    """An awaiting job was released: the jobs it depends on (or its batch) finished."""
    DEPENDENCY_FAILED = "dependency_failed"
    """An awaiting job was cancelled: a job it needs to succeed ended failed or cancelled."""


class JobOptions(BaseModel):
    """How and when a job runs. Unset fields take the job definition's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: str | None = None
    priority: int | None = None
    run_at: datetime | None = None
    delay: timedelta | None = None
    max_attempts: int | None = Field(default=None, ge=1)
    timeout: timedelta | None = None
    unique_key: str | None = None
    tags: tuple[str, ...] = ()
    depends_on: tuple[int, ...] = ()
    """Continuation: the job waits in `awaiting` until these jobs finish (see `continue_on`)."""
    continue_on: Literal["success", "any"] = "success"
    """`success`: run once every parent succeeded; a parent that ends failed or cancelled
    cancels this job (and its own dependants). `any`: run once every parent is final."""
    limit_tokens: int | None = Field(default=None, ge=0)
    """Tokens this run reserves from its limit's token budget when claimed, instead of
    the job's own estimate (`@job(tokens=...)`); corrected by what it reports using."""

    @field_validator("run_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        return value


class Progress(BaseModel):
    """The last progress a running job reported."""

    model_config = ConfigDict(frozen=True)

    fraction: float = 0.0
    message: str | None = None


class JobError(BaseModel):
    """An error raised by a job attempt."""

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    traceback: str | None = None
    duration_seconds: float | None = None
    """How long the failed attempt ran."""


class StateChange(BaseModel):
    """One entry of a job's state history."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    from_state: JobState | None
    to_state: JobState
    reason: StateChangeReason
    attempt: int
    worker: str | None = None
    error: JobError | None = None


class JobInfo(BaseModel):
    """Everything a caller can know about one job."""

    model_config = ConfigDict(frozen=True)

    id: int
    job: str
    queue: str
    priority: int
    state: JobState
    args: list[JsonValue]
    kwargs: dict[str, JsonValue]
    attempt: int
    max_attempts: int
    timeout_seconds: float | None = None
    unique_key: str | None = None
    tags: list[str] = Field(default_factory=list)
    progress: Progress = Field(default_factory=Progress)
    result: JsonValue = None
    error: JobError | None = None
    worker: str | None = None
    created_at: datetime
    run_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    history: list[StateChange] = Field(default_factory=list)
    batch_id: int | None = None
    depends_on: list[int] = Field(default_factory=list)
    continue_on: Literal["success", "any"] | None = None


class JobFilter(BaseModel):
    """Filters for listing jobs; every field narrows the result."""

    model_config = ConfigDict(frozen=True)

    state: JobState | None = None
    queue: str | None = None
    job: str | None = None


class BulkSelection(BaseModel):
    """Final jobs chosen for a bulk retry or delete: the dead-letter queue by default."""

    model_config = ConfigDict(frozen=True)

    states: tuple[JobState, ...] = (JobState.FAILED,)
    queue: str | None = None
    job: str | None = None
    error_type: str | None = None
    """Only jobs whose last error has this exception type name (e.g. `TimeoutError`)."""

    @field_validator("states")
    @classmethod
    def _final_only(cls, value: tuple[JobState, ...]) -> tuple[JobState, ...]:
        if not value or not all(state.is_final for state in value):
            raise ValueError("bulk retry and delete apply to final states only")
        return value


class JobPage(BaseModel):
    """One page of a job listing. Pass `next_cursor` back to get the next page."""

    model_config = ConfigDict(frozen=True)

    items: list[JobInfo]
    next_cursor: str | None = None


class EnqueueRequest(BaseModel):
    """A job to enqueue, by registered name: the shape the API, CLI and bulk enqueue use."""

    model_config = ConfigDict(frozen=True)

    job: str
    args: tuple[JsonValue, ...] = ()
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    options: JobOptions = Field(default_factory=JobOptions)


class EnqueueResult(BaseModel):
    """The id and state of an enqueued job; `existing` when a unique key matched a live job."""

    model_config = ConfigDict(frozen=True)

    id: int
    state: JobState
    existing: bool = False
