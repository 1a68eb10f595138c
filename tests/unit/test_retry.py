from __future__ import annotations

from datetime import timedelta

import pytest

from medley.infrastructure.jobs.retry import RetryPolicy, hangfire_backoff

pytestmark = pytest.mark.unit


class PinnedRand:
    """A `rand(low, high)` that always returns `value` and records its bounds."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.calls: list[tuple[int, int]] = []

    def __call__(self, low: int, high: int) -> int:
        self.calls.append((low, high))
        return self.value


@pytest.mark.parametrize(
    ("attempt", "rand", "seconds"),
    [
        (1, 0, 15),  # 0^4 + 15 + 0
        (1, 29, 44),  # 0^4 + 15 + 29*1
        (2, 0, 16),  # 1^4 + 15
        (2, 10, 36),  # 1 + 15 + 10*2
        (3, 5, 46),  # 2^4 + 15 + 5*3
        (5, 0, 271),  # 4^4 + 15
        (10, 29, 6866),  # 9^4 + 15 + 29*10
    ],
)
def test_hangfire_backoff_follows_hangfires_formula(attempt: int, rand: int, seconds: int) -> None:
    assert hangfire_backoff(attempt, rand=PinnedRand(rand)) == timedelta(seconds=seconds)


def test_hangfire_backoff_draws_the_jitter_from_0_to_29() -> None:
    rand = PinnedRand(0)

    hangfire_backoff(4, rand=rand)

    assert rand.calls == [(0, 29)]


@pytest.mark.parametrize("attempt", [0, -3])
def test_hangfire_backoff_treats_attempts_below_one_as_the_first(attempt: int) -> None:
    assert hangfire_backoff(attempt, rand=PinnedRand(7)) == hangfire_backoff(1, rand=PinnedRand(7))


def test_hangfire_backoff_grows_with_the_attempt() -> None:
    delays = [hangfire_backoff(n, rand=PinnedRand(29)) for n in range(1, 11)]

    assert delays == sorted(delays)
    assert len(set(delays)) == len(delays)


def test_hangfire_backoff_stays_within_its_jitter_bounds_with_real_randomness() -> None:
    for attempt in range(1, 11):
        delay = hangfire_backoff(attempt).total_seconds()
        base = (attempt - 1) ** 4 + 15
        assert base <= delay <= base + 29 * attempt


def test_retry_policy_uses_its_backoff() -> None:
    policy = RetryPolicy(backoff=lambda attempt: timedelta(seconds=attempt * 100))

    assert policy.delay_for(3) == timedelta(seconds=300)


def test_retry_policy_defaults_to_hangfire_backoff() -> None:
    delay = RetryPolicy().delay_for(1)

    assert timedelta(seconds=15) <= delay <= timedelta(seconds=44)
