"""Exceptions a job raises on purpose to steer its own retry (arq's `Retry`)."""

from __future__ import annotations

from datetime import timedelta

from medley.infrastructure.jobs.duration import parse_duration


class Retry(Exception):
    """Fail this attempt and retry after `delay` (default: the backoff policy), spending
    an attempt. With no attempts left the job fails."""

    def __init__(self, delay: str | float | timedelta | None = None, reason: str = "") -> None:
        self.delay = parse_duration(delay)
        super().__init__(reason or "retry requested by the job")


class Snooze(Exception):
    """Come back after `delay` without spending an attempt: the answer to an HTTP 429 or
    a resource that is not ready yet. With `limit_backoff=True` (what
    `ctx.rate_limited(...)` raises) no job of this job's named limit starts anywhere in
    the cluster until then either: the API said the whole account is over its rate; and
    unless the attempt reported usage, its token reservation is given back (a refused
    request costs no tokens)."""

    def __init__(
        self, delay: str | float | timedelta, reason: str = "", *, limit_backoff: bool = False
    ) -> None:
        parsed = parse_duration(delay)
        self.delay = parsed if parsed is not None else timedelta(0)
        self.limit_backoff = limit_backoff
        super().__init__(reason or f"snoozed for {self.delay.total_seconds():g}s")
