"""The misfire arithmetic: which ticks a scheduler pass fires after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medley.application.models.jobs import JobOptions
from medley.application.models.workflows import Misfire, RecurringJob
from medley.infrastructure.jobs.cron import CronSchedule
from medley.infrastructure.jobs.recurring import plan_fire

pytestmark = pytest.mark.unit

HOURLY = CronSchedule.parse("0 * * * *")
GRACE = timedelta(seconds=60)


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 5, 1, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize("misfire", list(Misfire))
def test_an_on_time_tick_fires_under_every_policy(misfire: Misfire) -> None:
    plan = plan_fire(HOURLY, utc(10), utc(10, 0, 5), misfire, grace=GRACE)

    assert plan.ticks == (utc(10),)
    assert plan.next_run_at == utc(11)
    assert plan.missed == 0


def test_a_tick_not_yet_due_fires_nothing() -> None:
    plan = plan_fire(HOURLY, utc(11), utc(10, 30), Misfire.ONCE, grace=GRACE)

    assert plan.ticks == ()
    assert plan.next_run_at == utc(11)


def test_several_on_time_ticks_all_fire_even_under_once() -> None:
    every_ten_seconds = CronSchedule.parse("*/10 * * * * *")

    plan = plan_fire(every_ten_seconds, utc(10), utc(10, 0, 30), Misfire.ONCE, grace=GRACE)

    assert plan.ticks == (utc(10), utc(10, 0, 10), utc(10, 0, 20), utc(10, 0, 30))
    assert plan.next_run_at == utc(10, 0, 40)


def test_once_folds_every_missed_tick_into_one_run() -> None:
    plan = plan_fire(HOURLY, utc(4), utc(10, 30), Misfire.ONCE, grace=GRACE)

    assert plan.ticks == (utc(10),)  # the latest due tick stands for all
    assert plan.missed == 6  # 04:00 .. 10:00 is seven ticks
    assert plan.next_run_at == utc(11)


def test_once_with_an_on_time_tick_still_runs_once() -> None:
    plan = plan_fire(HOURLY, utc(4), utc(10, 0, 30), Misfire.ONCE, grace=GRACE)

    assert plan.ticks == (utc(10),)
    assert plan.missed == 6


def test_all_runs_every_missed_tick_oldest_first() -> None:
    plan = plan_fire(HOURLY, utc(4), utc(10, 30), Misfire.ALL, grace=GRACE)

    assert plan.ticks == tuple(utc(h) for h in range(4, 11))
    assert plan.missed == 0


def test_all_works_a_long_backlog_off_over_several_passes() -> None:
    plan = plan_fire(HOURLY, utc(0), utc(10, 30), Misfire.ALL, grace=GRACE, limit=3)

    assert plan.ticks == (utc(0), utc(1), utc(2))
    assert plan.next_run_at == utc(3)  # still due: the next pass goes on from here
    assert plan.missed == 0


def test_skip_drops_missed_ticks() -> None:
    plan = plan_fire(HOURLY, utc(4), utc(10, 30), Misfire.SKIP, grace=GRACE)

    assert plan.ticks == ()
    assert plan.missed == 7
    assert plan.next_run_at == utc(11)


def test_skip_still_fires_the_tick_due_within_the_grace_period() -> None:
    plan = plan_fire(HOURLY, utc(4), utc(10, 0, 30), Misfire.SKIP, grace=GRACE)

    assert plan.ticks == (utc(10),)
    assert plan.missed == 6


def test_a_recurring_job_takes_no_timing_options() -> None:
    with pytest.raises(ValueError, match="timing is its cron"):
        RecurringJob(name="x", job="j", cron="@daily", options=JobOptions(delay=timedelta(1)))
