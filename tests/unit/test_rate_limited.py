"""`ctx.rate_limited(retry_after)` takes the HTTP `Retry-After` header as it comes: a
number of seconds or an HTTP date (RFC 9110), or a duration; an unusable or missing
value backs off for the default. It must never turn a 429 into an ordinary failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from medley.infrastructure.jobs.context import (
    RATE_LIMITED_DELAY_DEFAULT,
    JobContext,
    JobIdentity,
)
from medley.infrastructure.jobs.control import Snooze


def _ctx() -> JobContext:
    return JobContext(JobIdentity(1, "it.job", "default", 1, "w"))


def _snooze(retry_after: str | float | timedelta | None) -> Snooze:
    with pytest.raises(Snooze) as raised:
        _ctx().rate_limited(retry_after)
    assert raised.value.limit_backoff
    return raised.value


@pytest.mark.parametrize(
    ("header", "seconds"), [("120", 120.0), ("1.5", 1.5), ("30s", 30.0), (2.0, 2.0)]
)
def test_a_number_of_seconds_or_a_duration_is_the_delay(
    header: str | float, seconds: float
) -> None:
    assert _snooze(header).delay == timedelta(seconds=seconds)


def test_an_http_date_is_the_time_to_wait_until() -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    delay = _snooze(format_datetime(when, usegmt=True)).delay
    assert timedelta(seconds=85) <= delay <= timedelta(seconds=91)


def test_an_http_date_in_the_past_means_now() -> None:
    assert _snooze("Wed, 21 Oct 2015 07:28:00 GMT").delay == timedelta(0)


@pytest.mark.parametrize("header", [None, "", "soon", "-3"])
def test_an_unusable_value_backs_off_for_the_default(header: str | None) -> None:
    assert _snooze(header).delay == RATE_LIMITED_DELAY_DEFAULT
