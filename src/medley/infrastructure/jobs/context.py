"""What a running job sees: its identity, progress reporting, logging, cancellation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from medley.infrastructure.jobs.control import Snooze
from medley.infrastructure.jobs.storage.port import ProgressUpdate
from medley.infrastructure.observability.joblog import JobLogger, LineCapture

log = logging.getLogger("medley.job")

RATE_LIMITED_DELAY_DEFAULT = timedelta(seconds=5)
"""How long `ctx.rate_limited()` backs off when the API did not say (no Retry-After)."""


class JobCancelledError(Exception):
    """Raised by `raise_if_cancelled()` when a user cancelled the running job."""


@dataclass(frozen=True, slots=True)
class JobIdentity:
    id: int
    job: str
    queue: str
    attempt: int
    worker: str
    batch_id: int | None = None


class JobContext:
    """Passed as the first argument to jobs that declare a `ctx` parameter.

    Progress is kept in memory and written in coalesced batches, so a job may report it
    as often as it likes; the last value is written with the job's outcome.
    """

    def __init__(
        self,
        identity: JobIdentity,
        report: Callable[[ProgressUpdate], None] | None = None,
        *,
        request_id: str | None = None,
        capture: LineCapture | None = None,
    ) -> None:
        self.identity = identity
        self.started = time.monotonic()
        self._report = report
        self._stop = threading.Event()
        self.stop_reason: str | None = None
        self.last_progress: ProgressUpdate | None = None
        self.log_fields: dict[str, Any] = {
            "job_id": identity.id,
            "job": identity.job,
            "queue": identity.queue,
            "attempt": identity.attempt,
            "worker": identity.worker,
        }
        if request_id:
            self.log_fields["request_id"] = request_id
        self.capture = capture
        """Where this attempt's log lines are stored with the job (None: not stored)."""
        self.log: logging.LoggerAdapter[logging.Logger] = JobLogger(log, self.log_fields, capture)
        """Logs with the job's fields on every record, and stores each line with the job."""
        self.reported_tokens: float | None = None
        """Tokens reported with `report_usage` (None: none); written with the outcome."""

    @property
    def job_id(self) -> int:
        return self.identity.id

    @property
    def attempt(self) -> int:
        return self.identity.attempt

    @property
    def batch_id(self) -> int | None:
        """The batch this job belongs to, if any: pass it to `batch_add` to fan out."""
        return self.identity.batch_id

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress (0..1) with an optional message. Cheap: coalesced writes."""
        self.set_progress(fraction, message)

    def set_progress(self, fraction: float, message: str | None = None) -> None:
        """The same as `progress()`, for sync jobs running in threads."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        update = ProgressUpdate(
            id=self.identity.id, attempt=self.identity.attempt, fraction=fraction, message=message
        )
        self.last_progress = update
        if self._report is not None:
            self._report(update)

    @property
    def cancelled(self) -> bool:
        """True once a user asked this job to stop, or its timeout passed."""
        return self._stop.is_set()

    def raise_if_cancelled(self) -> None:
        """Cooperative cancellation point for long loops (sync jobs cannot be interrupted)."""
        if self._stop.is_set():
            raise JobCancelledError(self.stop_reason or "cancelled")

    def report_usage(self, *, tokens: float) -> None:
        """Report tokens this attempt used (e.g. an LLM response's `usage.total_tokens`);
        calls add up. With the outcome, the total replaces the estimate the job reserved
        from its limit's token budget when it was claimed, so the budget counts what was
        really spent. Without a report the reservation stands. Safe from sync jobs."""
        if tokens < 0:
            raise ValueError("tokens must be 0 or more")
        self.reported_tokens = (self.reported_tokens or 0.0) + tokens

    def rate_limited(self, retry_after: str | float | timedelta | None = None) -> NoReturn:
        """The API answered HTTP 429: snooze this job (no attempt spent) for `retry_after`
        (its Retry-After; default 5s), and block every start of the job's named limit,
        cluster-wide, until then. Raises `Snooze`; call it as the last thing."""
        delay = RATE_LIMITED_DELAY_DEFAULT if retry_after is None else retry_after
        raise Snooze(delay, "rate limited by the API", limit_backoff=True)

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    def __repr__(self) -> str:
        return f"JobContext({self.identity!r})"
