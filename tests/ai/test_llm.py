"""The language-model job pattern against a local OpenAI-compatible stub: answers, 429s
that snooze for Retry-After without spending an attempt and back the cluster-wide limit
off, requests and tokens per minute kept by that limit (reported usage replacing the
reservation), timeouts, refused requests, and cancellation of a call in flight.

The job tests run on SQLite only: what they check is the client's mapping of answers to
job control; Snooze, retries and cancellation on both backends are the engine's own
integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.ai import jobs as ai_jobs
from medley.infrastructure.ai.llm import (
    LlmClient,
    LlmConfig,
    LlmUnavailableError,
    retry_after_seconds,
)
from medley.infrastructure.ai.runtime import AiConfig, AiRuntime
from medley.infrastructure.jobs.control import Snooze
from medley.infrastructure.services.background_job_service import JobService
from tests.ai.stub_openai import Cue, StubOpenAI
from tests.support.limits import wait_for_tokens_used
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite"])
def ai_backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def stub() -> Iterator[StubOpenAI]:
    server = StubOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def ai_config(stub: StubOpenAI) -> AiConfig:
    llm = LlmConfig(base_url=stub.base_url, api_key="test-key", timeout_seconds=0.5)
    return AiConfig(embedder="hashed", llm=llm)


async def test_a_completion_job_returns_the_answer_and_its_usage(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(text="Because the moon moves."))
    await worker_factory()

    job_id = await service.enqueue(ai_jobs.COMPLETE, "Why are tides late?", "Be brief.", 20)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert info.result["text"] == "Because the moon moves."
    assert info.result["completion_tokens"] == 3
    [request] = stub.requests
    assert request["max_tokens"] == 20
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_the_llm_limit_bounds_calls_in_flight_across_jobs(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.extend(Cue(delay=0.15) for _ in range(3))
    await worker_factory()  # syncs the limit declared in code (4)
    await service.limit_set(ai_jobs.LLM_LIMIT, 1)  # at run time, for every worker

    ids = [await service.enqueue(ai_jobs.COMPLETE, f"question {i}") for i in range(3)]
    infos = [await service.wait(job_id, timeout=15) for job_id in ids]

    assert all(info.state is JobState.SUCCEEDED for info in infos)
    assert len(stub.requests) == 3
    assert stub.peak_in_flight == 1


async def test_a_429_snoozes_for_retry_after_without_spending_an_attempt(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(status=429, headers={"Retry-After": "1"}))
    await worker_factory()

    info = await service.wait(await service.enqueue(ai_jobs.COMPLETE, "hello"), timeout=15)

    assert info.state is JobState.SUCCEEDED
    assert len(stub.requests) == 2
    reasons = [h.reason for h in info.history]
    assert StateChangeReason.SNOOZED in reasons
    assert StateChangeReason.FAILED not in reasons
    snoozed = next(h for h in info.history if h.reason is StateChangeReason.SNOOZED)
    retried = [h for h in info.history if h.reason is StateChangeReason.FETCHED][-1]
    assert (retried.at - snoozed.at).total_seconds() >= 0.9


async def test_a_slow_answer_is_a_failed_attempt_that_will_be_retried(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(delay=3))
    await worker_factory()
    job_id = await service.enqueue(ai_jobs.COMPLETE, "hello")

    async def retrying() -> bool:
        return (await service.get(job_id)).state is JobState.SCHEDULED

    await wait_for(retrying, timeout=10)
    info = await service.get(job_id)
    assert info.error is not None
    assert info.error.type == "LlmUnavailableError"
    assert "no answer within 0.5s" in info.error.message


async def test_a_refused_request_fails_at_once(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(status=400))
    await worker_factory()

    info = await service.wait(await service.enqueue(ai_jobs.COMPLETE, "hello"), timeout=10)

    assert info.state is JobState.FAILED
    assert info.attempt == 1
    assert info.error is not None
    assert info.error.type == "LlmRequestError"


async def test_cancelling_a_job_aborts_the_call_in_flight(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(delay=0.45))  # under the timeout: only the cancel can stop it
    await worker_factory()
    job_id = await service.enqueue(ai_jobs.COMPLETE, "hello")
    await wait_for(lambda: len(stub.requests) == 1, timeout=10)

    await service.cancel(job_id)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.CANCELLED
    assert info.result is None


async def test_the_requests_per_minute_are_kept_cluster_wide_without_calling_the_api(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    await worker_factory()
    await service.limit_set(ai_jobs.LLM_LIMIT, rate=2, period=3600)  # 2 requests an hour

    ids = [await service.enqueue(ai_jobs.COMPLETE, f"question {i}") for i in range(3)]
    done = [await service.wait(job_id, timeout=10) for job_id in ids[:2]]

    assert all(info.state is JobState.SUCCEEDED for info in done)
    info = await service.limit_get(ai_jobs.LLM_LIMIT)
    assert info is not None
    assert info.starts_used == pytest.approx(2, abs=0.01)
    waiting = await service.get(ids[2])
    assert waiting.state is JobState.ENQUEUED, "the third waits for the rate, unstarted"
    assert waiting.attempt == 0
    assert len(stub.requests) == 2


async def test_the_answers_usage_replaces_the_reserved_tokens(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    await worker_factory()
    await service.limit_set(ai_jobs.LLM_LIMIT, tokens=10_000, period=3600)
    prompt = "x" * 400  # reserves 400 / 4 + 256 = 356 tokens
    job_id = await service.enqueue(ai_jobs.COMPLETE, prompt)

    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    used = info.result["prompt_tokens"] + info.result["completion_tokens"]
    assert used != 356
    await wait_for_tokens_used(service, ai_jobs.LLM_LIMIT, used, tolerance=1)


async def test_a_429_backs_off_the_whole_limit_until_retry_after(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, stub: StubOpenAI
) -> None:
    stub.cues.append(Cue(status=429, headers={"Retry-After": "2"}))
    await worker_factory()
    first = await service.enqueue(ai_jobs.COMPLETE, "hello")
    await wait_for(lambda: len(stub.requests) == 1, timeout=10)

    async def blocked() -> bool:
        info = await service.limit_get(ai_jobs.LLM_LIMIT)
        return info is not None and info.blocked_until is not None

    await wait_for(blocked, timeout=5, message="the limit is blocked after the 429")
    second = await service.enqueue(ai_jobs.COMPLETE, "another")
    assert (await service.get(second)).state is JobState.ENQUEUED
    infos = [await service.wait(job_id, timeout=15) for job_id in (first, second)]

    assert all(info.state is JobState.SUCCEEDED for info in infos)
    assert len(stub.requests) == 3, "nothing else reached the API during the block"
    snoozed = next(h for h in infos[0].history if h.reason is StateChangeReason.SNOOZED)
    [fetched] = [h for h in infos[1].history if h.reason is StateChangeReason.FETCHED]
    assert (fetched.at - snoozed.at).total_seconds() >= 1.5, "the other job waited too"


@pytest.mark.unit
async def test_a_429_without_retry_after_snoozes_for_the_default_and_backs_the_limit_off(
    stub: StubOpenAI,
) -> None:
    stub.cues.append(Cue(status=429))
    client = LlmClient(LlmConfig(base_url=stub.base_url, default_retry_after_seconds=30))
    try:
        with pytest.raises(Snooze) as snoozed:
            await client.complete([{"role": "user", "content": "x"}], max_tokens=5)
    finally:
        await client.close()

    assert snoozed.value.delay == timedelta(seconds=30)
    assert snoozed.value.limit_backoff, "the job's limit is blocked, cluster-wide"
    assert len(stub.requests) == 1


@pytest.mark.unit
async def test_an_unreachable_api_is_unavailable_not_a_crash() -> None:
    client = LlmClient(LlmConfig(base_url="http://127.0.0.1:9/v1", timeout_seconds=2))
    try:
        with pytest.raises(LlmUnavailableError, match="cannot reach"):
            await client.complete([{"role": "user", "content": "x"}], max_tokens=5)
    finally:
        await client.close()


@pytest.mark.unit
def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(later, now=now) == 90.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
