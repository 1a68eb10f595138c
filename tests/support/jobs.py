"""Factories for storage-level test data: insert parameters, claimed jobs, outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobFetchParams,
    JobInsertParams,
    JobInsertResult,
    JobRow,
    JobStore,
)

DEFAULT_WORKER = "worker-a"


def job_params(**overrides: Any) -> JobInsertParams:
    """`JobInsertParams` with sensible defaults; `payload_json` follows `args`/`kwargs`
    unless given."""
    values: dict[str, Any] = {
        "job": "tests.noop",
        "queue": "default",
        "priority": 100,
        "state": JobState.ENQUEUED,
        "args": [],
        "kwargs": {},
        "run_at": None,
        "max_attempts": 10,
        "timeout_seconds": None,
        "unique_key": None,
    }
    values.update(overrides)
    values.setdefault("payload_json", (json.dumps(values["args"]), json.dumps(values["kwargs"])))
    return JobInsertParams(**values)


async def insert_job(store: JobStore, /, **overrides: Any) -> JobInsertResult:
    """Insert one job built by `job_params(**overrides)`."""
    [result] = await store.job_insert_many([job_params(**overrides)])
    return result


class InsertJob(Protocol):
    """The type of the `insert_job` fixture."""

    async def __call__(self, store: JobStore, /, **overrides: Any) -> JobInsertResult: ...


async def claim(
    store: JobStore, *, worker_id: str = DEFAULT_WORKER, queue: str = "default"
) -> JobRow:
    """Fetch exactly one job for `worker_id`; fails the test if none is available."""
    rows = await store.job_fetch_available(
        JobFetchParams(queue=queue, limit=1, worker_id=worker_id)
    )
    assert len(rows) == 1, f"expected one job to claim in queue {queue!r}, got {len(rows)}"
    return rows[0]


async def finish(
    store: JobStore,
    row: JobRow,
    state: JobState = JobState.SUCCEEDED,
    *,
    worker_id: str = DEFAULT_WORKER,
    error: dict[str, Any] | None = None,
) -> None:
    """Write a final outcome for a claimed job and check that it was written."""
    reason = {
        JobState.SUCCEEDED: StateChangeReason.COMPLETED,
        JobState.FAILED: StateChangeReason.FAILED,
        JobState.CANCELLED: StateChangeReason.CANCELLED,
    }[state]
    if state is JobState.FAILED and error is None:
        error = sample_error()
    written = await store.job_set_state_if_processing(
        worker_id,
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=state,
                reason=reason,
                result_json="null" if state is JobState.SUCCEEDED else None,
                error=error,
            )
        ],
    )
    assert written == [row.id]


def sample_error(message: str = "boom") -> dict[str, Any]:
    return {"type": "RuntimeError", "message": message, "traceback": "Traceback ..."}


def utcnow() -> datetime:
    return datetime.now(UTC)


def assert_same_instant(
    actual: datetime | None, expected: datetime, tolerance: timedelta = timedelta(milliseconds=1)
) -> None:
    """Times round-trip through databases with at most microsecond-ish precision."""
    assert actual is not None, f"expected {expected.isoformat()}, got None"
    assert actual.tzinfo is not None, f"{actual!r} is not timezone-aware"
    assert abs(actual - expected) <= tolerance, f"{actual.isoformat()} != {expected.isoformat()}"
