from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from medley.application.errors import InvalidScheduleError
from medley.infrastructure.jobs.cron import CronSchedule

pytestmark = pytest.mark.unit

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def run(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    schedule = CronSchedule.parse(expression, timezone)
    ticks: list[datetime] = []
    for _ in range(count):
        after = schedule.next_after(after)
        ticks.append(after)
    return ticks


def test_next_after_is_strictly_after_and_utc() -> None:
    schedule = CronSchedule.parse("*/5 * * * *")

    tick = schedule.next_after(utc(2026, 1, 1, 12, 5))

    assert tick == utc(2026, 1, 1, 12, 10)
    assert tick.tzinfo is UTC


def test_six_fields_have_a_leading_seconds_field() -> None:
    ticks = run("*/20 * * * * *", "UTC", utc(2026, 1, 1, 0, 0, 0), 3)

    assert ticks == [utc(2026, 1, 1, 0, 0, 20), utc(2026, 1, 1, 0, 0, 40), utc(2026, 1, 1, 0, 1)]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", utc(2026, 1, 1, 13)),
        ("@daily", utc(2026, 1, 2)),
        ("@midnight", utc(2026, 1, 2)),
        ("@weekly", utc(2026, 1, 4)),
        ("@monthly", utc(2026, 2, 1)),
        ("@yearly", utc(2027, 1, 1)),
        ("@ANNUALLY", utc(2027, 1, 1)),
    ],
)
def test_aliases_expand_like_vixie_cron(alias: str, expected: datetime) -> None:
    assert CronSchedule.parse(alias).next_after(utc(2026, 1, 1, 12, 30)) == expected


def test_ticks_follow_the_wall_clock_of_the_time_zone() -> None:
    ticks = run("0 9 * * *", NEW_YORK, utc(2026, 3, 7), 2)

    # 09:00 EST, then 09:00 EDT: the instant moves by an hour, the wall clock does not.
    assert ticks == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)]


def test_a_tick_in_a_spring_forward_gap_runs_when_the_gap_ends() -> None:
    # Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 never happens.
    ticks = run("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), 3)

    assert ticks == [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]


def test_several_ticks_in_a_gap_run_once_when_it_ends() -> None:
    ticks = run("*/15 2 * * *", BERLIN, utc(2026, 3, 28, 12), 2)

    assert ticks == [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0)]


def test_an_interval_schedule_keeps_its_rhythm_across_the_gap() -> None:
    ticks = run("*/15 * * * *", BERLIN, utc(2026, 3, 29, 0, 20), 4)

    assert ticks == [
        utc(2026, 3, 29, 0, 30),  # 01:30 CET
        utc(2026, 3, 29, 0, 45),  # 01:45 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST: real time never stopped
        utc(2026, 3, 29, 1, 15),
    ]


def test_a_daily_tick_in_a_repeated_hour_runs_once_in_the_first_pass() -> None:
    # Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    ticks = run("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), 2)

    assert ticks == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_daily_tick_is_not_repeated_when_asked_from_the_second_pass() -> None:
    second_pass = utc(2026, 10, 25, 1, 10)  # 02:10 CET, after 02:30 CEST already ran

    assert run("30 2 * * *", BERLIN, second_pass, 1) == [utc(2026, 10, 26, 1, 30)]


def test_an_interval_schedule_runs_in_both_passes_of_a_repeated_hour() -> None:
    ticks = run("*/30 * * * *", BERLIN, utc(2026, 10, 24, 23, 10), 6)

    assert ticks == [
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 1, 0),  # 02:00 CET
        utc(2026, 10, 25, 1, 30),  # 02:30 CET
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
    ]


def test_hourly_stays_hourly_in_real_time_through_both_transitions() -> None:
    for start in (utc(2026, 3, 28, 22), utc(2026, 10, 24, 22)):
        ticks = run("@hourly", BERLIN, start, 8)
        gaps = {b - a for a, b in itertools.pairwise(ticks)}
        assert gaps == {timedelta(hours=1)}


def test_ticks_lists_the_ticks_in_a_window_up_to_a_limit() -> None:
    schedule = CronSchedule.parse("0 * * * *")

    assert schedule.ticks(utc(2026, 1, 1), utc(2026, 1, 1, 3), 10) == [
        utc(2026, 1, 1, 1),
        utc(2026, 1, 1, 2),
        utc(2026, 1, 1, 3),
    ]
    assert len(schedule.ticks(utc(2026, 1, 1), utc(2026, 1, 2), 5)) == 5


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("* * *", "UTC", "has 3 fields"),
        ("* * * * * * *", "UTC", "has 7 fields"),
        ("61 * * * *", "UTC", "invalid cron expression"),
        ("0 0 31 2 *", "UTC", "never fires"),
        ("@reboot", "UTC", "unknown cron alias"),
        ("* * * * *", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_parse_rejects_bad_schedules_with_a_clear_message(
    expression: str, timezone: str, message: str
) -> None:
    with pytest.raises(InvalidScheduleError, match=message):
        CronSchedule.parse(expression, timezone)


@pytest.mark.parametrize(
    ("expression", "interval"),
    [("30 2 * * *", False), ("0 */2 * * *", True), ("*/10 3 * * *", True), ("0 0 1 * *", False)],
)
def test_interval_means_a_star_or_step_in_a_time_field(expression: str, interval: bool) -> None:
    assert CronSchedule.parse(expression).interval is interval
