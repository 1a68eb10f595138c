"""Storage rows -> application models."""

from __future__ import annotations

from typing import Literal

from medley.application.models.jobs import JobError, JobInfo, Progress, StateChange
from medley.infrastructure.jobs.storage.port import HistoryRow, JobRow


def job_info(row: JobRow, history: list[HistoryRow] | None = None) -> JobInfo:
    return JobInfo(
        id=row.id,
        job=row.job,
        queue=row.queue,
        priority=row.priority,
        state=row.state,
        args=list(row.args),
        kwargs=dict(row.kwargs),
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        timeout_seconds=row.timeout_seconds,
        unique_key=row.unique_key,
        tags=list(row.tags),
        progress=Progress(fraction=row.progress_fraction or 0.0, message=row.progress_message),
        result=row.result,
        error=JobError.model_validate(row.error) if row.error else None,
        worker=row.lease_owner,
        created_at=row.created_at,
        run_at=row.run_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        cancel_requested=row.cancel_requested,
        history=[state_change(h) for h in history or []],
        batch_id=row.batch_id,
        depends_on=list(row.depends_on),
        continue_on=_CONTINUE_ON.get(row.continue_on or ""),
    )


def state_change(row: HistoryRow) -> StateChange:
    return StateChange(
        at=row.at,
        from_state=row.from_state,
        to_state=row.to_state,
        reason=row.reason,
        attempt=row.attempt,
        worker=row.worker,
        error=JobError.model_validate(row.error) if row.error else None,
    )


_CONTINUE_ON: dict[str, Literal["success", "any"]] = {"success": "success", "any": "any"}
