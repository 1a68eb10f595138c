"""Optional OpenTelemetry tracing (`pip install medley[otel]`, plus an SDK the host
configures): a PRODUCER span around each enqueue, whose context is stored in the job's
`meta`, and a CONSUMER span around each attempt, linked to it. A link rather than a
parent: the attempt may run hours later, or many times, and belongs to its own trace.

Without the `opentelemetry` package everything here is a no-op, and with the API but no
SDK the spans are non-recording and nothing is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

TRACER_NAME = "medley"
TRACE_KEYS = ("traceparent", "tracestate")
"""The W3C trace-context keys stored in a job's `meta`."""

GLOBAL_RECHECK_SECONDS = 1.0
"""While no global SDK provider is set, look again at most this often: asking costs an
environment lookup per call (~4% of a no-op job's time in the worker), and a host that
sets one after the worker started gets spans within this."""

_provider: Any = None
_api: tuple[Any, Any] | None = None
_loaded = False
_global_off_until = 0.0


def use_tracer_provider(provider: Any) -> None:
    """Send Medley's spans to `provider` instead of the global one (None: global again)."""
    global _provider, _global_off_until
    _provider = provider
    _global_off_until = 0.0


def _opentelemetry() -> tuple[Any, Any] | None:
    """(trace, propagate), imported on first use (the import costs ~30 ms of a process
    start, and a job's child process never traces); None without the `otel` extra."""
    global _api, _loaded
    if not _loaded:
        try:
            from opentelemetry import propagate, trace

            _api = (trace, propagate)
        except ImportError:
            _api = None
        _loaded = True
    return _api


def _tracing() -> tuple[Any, Any] | None:
    """`_opentelemetry()`, or None while no SDK provider is set (ours or the global one):
    the API alone only makes non-recording spans, and starting one cost ~20 us per job
    attempt (a sixth of a no-op job's whole overhead in the worker)."""
    global _global_off_until
    if _provider is None and time.monotonic() < _global_off_until:
        return None
    api = _opentelemetry()
    if api is None:
        return None
    trace = api[0]
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        if _provider is None:
            _global_off_until = time.monotonic() + GLOBAL_RECHECK_SECONDS
        return None
    return api


def active() -> bool:
    """Spans would be recorded now (an SDK provider is set, ours or the global one)."""
    return _tracing() is not None


def enqueue_span(
    jobs: Callable[[], Sequence[str]], queues: Callable[[], Sequence[str]]
) -> AbstractContextManager[dict[str, str]]:
    """A PRODUCER span for one enqueue call; yields the trace context to store with the
    jobs (empty when tracing is off or the span does not record). The names are asked
    for only when a span is made: an enqueue with tracing off costs no list and no
    generator."""
    api = _tracing()
    if api is None:
        return nullcontext({})
    return _enqueue_span(api, jobs(), queues())


@contextmanager
def _enqueue_span(
    api: tuple[Any, Any], jobs: Sequence[str], queues: Sequence[str]
) -> Iterator[dict[str, str]]:
    trace, propagate = api
    names = sorted(set(jobs))
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=_provider)
    with tracer.start_as_current_span(
        f"medley enqueue {names[0] if len(names) == 1 else 'batch'}",
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "medley",
            "messaging.operation.type": "send",
            "messaging.batch.message_count": len(jobs),
            "medley.jobs": names,
            "medley.queues": sorted(set(queues)),
        },
    ) as span:
        carrier: dict[str, str] = {}
        if span.get_span_context().is_valid:
            propagate.inject(carrier)
        yield {key: value for key, value in carrier.items() if key in TRACE_KEYS}


@contextmanager
def attempt_span(
    job: str, job_id: int, queue: str, attempt: int, meta: dict[str, Any]
) -> Iterator[None]:
    """A CONSUMER span around one attempt, linked to the enqueue span stored in `meta`."""
    api = _tracing()
    if api is None:
        yield
        return
    trace, propagate = api
    carrier = {key: str(meta[key]) for key in TRACE_KEYS if key in meta}
    links = []
    if carrier:
        linked = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if linked.is_valid:
            links.append(trace.Link(linked))
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=_provider)
    with tracer.start_as_current_span(
        f"medley run {job}",
        context=trace.set_span_in_context(trace.INVALID_SPAN),  # a new trace of its own
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "medley",
            "messaging.operation.type": "process",
            "messaging.message.id": str(job_id),
            "messaging.destination.name": queue,
            "medley.job": job,
            "medley.attempt": attempt,
        },
    ):
        yield
