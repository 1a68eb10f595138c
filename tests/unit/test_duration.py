from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.duration import parse_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", timedelta(seconds=30)),
        ("30s", timedelta(seconds=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("10m", timedelta(minutes=10)),
        ("1.5h", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("0s", timedelta(0)),
        (" 5 m ", timedelta(minutes=5)),
    ],
)
def test_parse_duration_reads_a_number_with_a_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [(30, timedelta(seconds=30)), (0.5, timedelta(milliseconds=500)), (0, timedelta(0))],
)
def test_parse_duration_reads_a_number_as_seconds(number: float, expected: timedelta) -> None:
    assert parse_duration(number) == expected


def test_parse_duration_passes_a_timedelta_through() -> None:
    value = timedelta(minutes=3)

    assert parse_duration(value) is value


def test_parse_duration_keeps_none() -> None:
    assert parse_duration(None) is None


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5s", "1h30m", "m", "1e3s", "five"])
def test_parse_duration_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("number", [-1, -0.5])
def test_parse_duration_rejects_a_negative_number(number: float) -> None:
    with pytest.raises(ConfigError, match="negative"):
        parse_duration(number)
