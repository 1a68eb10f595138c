"""OpenTelemetry: an enqueue makes a PRODUCER span whose context travels in the job's
metadata; the attempt makes a CONSUMER span of its own trace, linked to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import medley
from medley.infrastructure.observability import tracing
from tests.integration import observability_jobs as jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_tracer_provider(None)
        provider.shutdown()


async def test_the_attempt_span_is_linked_to_the_enqueue_span(
    service: medley.JobService, start_worker: StartWorker, spans: InMemorySpanExporter
) -> None:
    await start_worker()
    job_id = await service.enqueue(jobs.noop)
    await service.wait(job_id, timeout=10)

    def both() -> bool:
        return len(spans.get_finished_spans()) >= 2

    await wait_for(both)
    by_name = {span.name: span for span in spans.get_finished_spans()}
    enqueue, run = by_name["medley enqueue obs.noop"], by_name["medley run obs.noop"]
    assert enqueue.kind is trace.SpanKind.PRODUCER
    assert run.kind is trace.SpanKind.CONSUMER
    assert run.attributes is not None
    assert run.attributes["messaging.message.id"] == str(job_id)
    assert [link.context.span_id for link in run.links] == [enqueue.context.span_id]
    assert run.context.trace_id != enqueue.context.trace_id  # its own trace, linked
    row = await service.store.job_get(job_id)
    assert row is not None
    assert row.meta["traceparent"].split("-")[2] == format(enqueue.context.span_id, "016x")


async def test_without_a_recording_tracer_nothing_is_stored(service: medley.JobService) -> None:
    job_id = await service.enqueue(jobs.noop)

    row = await service.store.job_get(job_id)

    assert row is not None
    assert "traceparent" not in row.meta
