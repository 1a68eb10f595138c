"""Medley follows OpenTelemetry's global tracer provider without asking for it on every
job: while none is set it looks again at most once per `GLOBAL_RECHECK_SECONDS`, so a
provider the host sets after the worker started is used from then on."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from medley.infrastructure.observability import tracing


class GlobalProvider:
    """Stands in for OpenTelemetry's global provider, which can be set only once per
    process; counts how often it is asked for."""

    def __init__(self) -> None:
        self.current: Any = trace.ProxyTracerProvider()
        self.asked = 0

    def get(self) -> Any:
        self.asked += 1
        return self.current


@pytest.fixture
def global_provider(monkeypatch: pytest.MonkeyPatch) -> GlobalProvider:
    provider = GlobalProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", provider.get)
    monkeypatch.setattr(tracing, "_global_off_until", 0.0)
    return provider


def test_without_a_global_provider_jobs_do_not_ask_again_within_the_recheck_window(
    global_provider: GlobalProvider,
) -> None:
    for _ in range(100):
        assert tracing._tracing() is None
    assert global_provider.asked == 1


def test_a_global_provider_set_later_is_used_after_the_recheck_window(
    global_provider: GlobalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tracing._tracing() is None
    global_provider.current = TracerProvider()
    assert tracing._tracing() is None  # within the window: not asked again yet
    monkeypatch.setattr(tracing, "_global_off_until", 0.0)  # the window has passed
    assert tracing._tracing() is not None
