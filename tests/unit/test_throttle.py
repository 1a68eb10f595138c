"""`runtime/throttle.py`: which thresholds pause fetching, sampling at most once per
interval, and the WARNING/INFO log lines of each episode (injected sampler and clock)."""

from __future__ import annotations

import logging

import pytest

from medley.infrastructure.jobs.runtime.throttle import (
    MB,
    ResourceSample,
    Throttle,
    ThrottleConfig,
    pressure,
)

pytestmark = pytest.mark.unit

CALM = ResourceSample(rss_bytes=100 * MB, available_bytes=4000 * MB, cpu_percent=20.0)
LIMITS = ThrottleConfig(max_rss_mb=500, min_available_mb=1000, max_cpu_percent=90)


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (CALM, None),
        (ResourceSample(600 * MB, 4000 * MB, 20.0), "rss 600 MB > 500 MB"),
        (ResourceSample(100 * MB, 800 * MB, 20.0), "available memory 800 MB < 1000 MB"),
        (ResourceSample(100 * MB, 4000 * MB, 95.0), "cpu 95% > 90%"),
    ],
)
def test_pressure_names_the_threshold_crossed(sample: ResourceSample, reason: str | None) -> None:
    assert pressure(LIMITS, sample) == reason


def test_no_threshold_means_never_throttled_and_never_sampled() -> None:
    def sampler() -> ResourceSample:
        raise AssertionError("sampled without thresholds")

    assert Throttle(ThrottleConfig(), sampler).check() is None


def test_throttle_samples_at_most_once_per_interval_and_logs_each_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="medley.worker")
    now = [0.0]
    readings = [ResourceSample(600 * MB, 4000 * MB, 20.0)]
    throttle = Throttle(
        ThrottleConfig(max_rss_mb=500, sample_seconds=1.0),
        lambda: readings[0],
        clock=lambda: now[0],
    )

    assert throttle.check() == "rss 600 MB > 500 MB"
    readings[0] = CALM
    now[0] = 0.5
    assert throttle.check() == "rss 600 MB > 500 MB"  # within the interval: no new sample
    now[0] = 1.0
    assert throttle.check() is None

    assert throttle.episodes == 1
    levels = [(r.levelno, r.getMessage().split(";")[0]) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "throttled: rss 600 MB > 500 MB"),
        (logging.INFO, "throttling ended (was: rss 600 MB > 500 MB)"),
    ]


def test_throttle_config_rejects_non_positive_thresholds() -> None:
    with pytest.raises(ValueError, match="max_rss_mb"):
        ThrottleConfig(max_rss_mb=0)


def test_a_failing_sampler_keeps_the_last_decision_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    readings: list[ResourceSample | None] = [ResourceSample(600 * MB, 4000 * MB, 20.0), None]

    def sampler() -> ResourceSample:
        sample = readings.pop(0)
        if sample is None:
            raise OSError("no such process")
        return sample

    throttle = Throttle(LIMITS, sampler, clock=lambda: now[0])
    assert throttle.check() == "rss 600 MB > 500 MB"
    now[0] += LIMITS.sample_seconds
    with caplog.at_level(logging.WARNING, logger="medley.worker"):
        assert throttle.check() == "rss 600 MB > 500 MB"
    assert "could not read resource use (no such process)" in caplog.text
