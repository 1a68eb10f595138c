"""Cron schedules in a time zone, safe across daylight-saving transitions. Pure: no I/O,
no clock; every instant in and out is an aware datetime.

croniter matches the fields on *naive wall-clock* times only; this module maps wall-clock
occurrences to instants with the rules of Vixie cron (and of Cronos, Hangfire's parser):

* a tick that a spring-forward gap skips (02:30 on the night clocks jump 02:00 -> 03:00)
  runs when the gap ends (03:00), once however many ticks the gap held;
* a tick that a fall-back repeats (02:30 happens twice) runs once, in the first pass,
  unless the expression is an *interval* one (a `*` or `/` in its seconds, minutes or
  hours field): then it runs in both passes, so `*/15 * * * *` keeps firing every 15
  real minutes through the repeated hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from medley.application.errors import InvalidScheduleError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""Named schedules (as Vixie cron); `@reboot` has no meaning for a job system."""

_TINY = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron expression in a time zone. Build it with `CronSchedule.parse`."""

    expression: str
    """As given, whitespace normalised (an alias stays an alias)."""
    timezone: str
    fields: str
    """The expanded 5- or 6-field form handed to croniter."""
    interval: bool
    """Fires in both passes of a repeated (fall-back) hour; see the module docstring."""
    zone: ZoneInfo = field(compare=False, repr=False)

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> CronSchedule:
        """Raises `InvalidScheduleError` for a bad expression, an unknown time zone, or a
        schedule that never fires (`0 0 31 2 *`)."""
        text = " ".join(expression.split())
        fields = ALIASES.get(text.lower(), text)
        parts = fields.split(" ")
        if text.startswith("@") and text.lower() not in ALIASES:
            raise InvalidScheduleError(f"unknown cron alias {text!r}")
        if len(parts) not in (5, 6):
            raise InvalidScheduleError(
                f"cron expression {text!r} has {len(parts)} fields: expected 5 "
                "(minute hour day month weekday) or 6 (with leading seconds)"
            )
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidScheduleError(f"unknown time zone {timezone!r}") from None
        time_fields = parts[: len(parts) - 3]  # [seconds,] minutes, hours
        interval = any("*" in f or "/" in f for f in time_fields)
        schedule = cls(text, timezone, fields, interval, zone)
        try:
            schedule._find(datetime(2000, 1, 1), inclusive=True)
        except CroniterBadDateError:
            raise InvalidScheduleError(f"cron expression {text!r} never fires") from None
        except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
            raise InvalidScheduleError(f"invalid cron expression {text!r}: {exc}") from None
        return schedule

    def next_after(self, after: datetime) -> datetime:
        """The first tick strictly after `after` (aware), as an aware UTC datetime."""
        local = after.astimezone(UTC).astimezone(self.zone)
        wall = local.replace(tzinfo=None, fold=0)
        inclusive = False
        if _is_ambiguous(self.zone, wall):
            first, second = _offset(self.zone, wall, 0), _offset(self.zone, wall, 1)
            shift = _transition(self.zone, _utc(wall, first), _utc(wall, second))
            first_end = (shift + first).replace(tzinfo=None)  # wall clock leaving pass 1
            second_start = (shift + second).replace(tzinfo=None)  # ... entering pass 2
            if local.utcoffset() == first:  # still in the first pass: finish it
                found = self._find(wall, inclusive=False, before=first_end)
                if found is not None:
                    return _utc(found, first)
                wall, inclusive = second_start, True
            if self.interval:  # the second pass fires too
                found = self._find(wall, inclusive=inclusive, before=first_end)
                if found is not None:
                    return _utc(found, second)
            wall, inclusive = first_end, True
        found = self._find(wall, inclusive=inclusive)
        assert found is not None  # parse() proved the schedule fires
        return self._instant(found)

    def ticks(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """Up to `limit` ticks in (after, until], in order."""
        found: list[datetime] = []
        tick = self.next_after(after)
        while tick <= until and len(found) < limit:
            found.append(tick)
            tick = self.next_after(tick)
        return found

    def _find(
        self, start: datetime, *, inclusive: bool, before: datetime | None = None
    ) -> datetime | None:
        """The first naive wall-clock occurrence after (or at) `start`, if before `before`."""
        base = start - _TINY if inclusive else start
        found: datetime = croniter(self.fields, base, second_at_beginning=True).get_next(datetime)
        return found if before is None or found < before else None

    def _instant(self, wall: datetime) -> datetime:
        if _exists(self.zone, wall):
            return _utc(wall, _offset(self.zone, wall, 0))  # fold 0: the first pass
        # In a spring-forward gap: the instant the clocks jump, when the gap ends.
        before, after = _offset(self.zone, wall, 0), _offset(self.zone, wall, 1)
        return _transition(self.zone, _utc(wall, after), _utc(wall, before))


def _offset(zone: ZoneInfo, wall: datetime, fold: int) -> timedelta:
    offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
    assert offset is not None
    return offset


def _utc(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def _exists(zone: ZoneInfo, wall: datetime) -> bool:
    back = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == wall


def _is_ambiguous(zone: ZoneInfo, wall: datetime) -> bool:
    return _exists(zone, wall) and _offset(zone, wall, 0) != _offset(zone, wall, 1)


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The instant in (low, high] where the offset becomes the one in force at `high`:
    a binary search on whole seconds (tz transitions fall on whole seconds)."""
    target = high.astimezone(zone).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
