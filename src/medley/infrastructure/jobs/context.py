"""What a running job sees: its identity, progress reporting, logging, cancellation."""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.control import Snooze
from medley.infrastructure.jobs.duration import parse_duration
from medley.infrastructure.jobs.storage.port import ProgressUpdate
from medley.infrastructure.observability.joblog import JobLogger, LineCapture

log = logging.getLogger("medley.job")

RATE_LIMITED_DELAY_DEFAULT = timedelta(seconds=5)
"""How long `ctx.rate_limited()` backs off when the API did not say (no Retry-After)."""


def retry_after_delay(value: str | float | timedelta | None) -> float | timedelta:
    """How long a 429 says to wait. A string is taken as the `Retry-After` header comes:
    seconds or an HTTP date (RFC 9110; one in the past means now), or else a duration
    (`30s`); a missing or unusable one is the default, never an error that would turn
    the 429 into an ordinary failure."""
    if value is None:
        return RATE_LIMITED_DELAY_DEFAULT
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else RATE_LIMITED_DELAY_DEFAULT
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    else:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(when - datetime.now(UTC), timedelta(0))
    try:
        return parse_duration(text) or RATE_LIMITED_DELAY_DEFAULT
    except ConfigError:
        return RATE_LIMITED_DELAY_DEFAULT


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
        on_usage: Callable[[float], None] | None = None,
    ) -> None:
        self.identity = identity
        self._on_usage = on_usage
        self.started = time.monotonic()
        self._report = report
        self._stopped = False
        """A flag, not a `threading.Event`: nothing waits on it, and building an Event per
        attempt cost more than the rest of this constructor."""
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
        self._usage_lock = threading.Lock()

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
        return self._stopped

    def raise_if_cancelled(self) -> None:
        """Cooperative cancellation point for long loops (sync jobs cannot be interrupted)."""
        if self._stopped:
            raise JobCancelledError(self.stop_reason or "cancelled")

    def report_usage(self, *, tokens: float) -> None:
        """Report tokens this attempt used (e.g. an LLM response's `usage.total_tokens`);
        calls add up. With the outcome, the total replaces the estimate the job reserved
        from its limit's token budget when it was claimed, so the budget counts what was
        really spent. Without a report the reservation stands. Safe from sync jobs."""
        if tokens < 0:
            raise ValueError("tokens must be 0 or more")
        with self._usage_lock:
            self.reported_tokens = (self.reported_tokens or 0.0) + tokens
        if self._on_usage is not None:  # a child process: the worker keeps the sum too
            self._on_usage(tokens)

    def rate_limited(self, retry_after: str | float | timedelta | None = None) -> NoReturn:
        """The API answered HTTP 429: snooze this job (no attempt spent) for `retry_after`
        (its Retry-After header as it came: seconds or an HTTP date; default and when
        unusable, 5s), and block every start of the job's named limit,
        cluster-wide, until then. Raises `Snooze`; call it as the last thing."""
        raise Snooze(retry_after_delay(retry_after), "rate limited by the API", limit_backoff=True)

    def request_stop(self, reason: str) -> None:
        if not self._stopped:
            self.stop_reason = reason
            self._stopped = True

    def __repr__(self) -> str:
        return f"JobContext({self.identity!r})"
