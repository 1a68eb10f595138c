"""Rate limits at the storage level, on both backends: start rates and token budgets are
spent by the claim, corrected by reported usage, and paused by a 429 block."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobRow,
    JobStore,
    LimitParams,
    LimitRow,
)
from tests.support.jobs import job_params
from tests.support.limits import fetch, limited
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract


async def limit_row(store: JobStore, name: str) -> LimitRow:
    return {r.name: r for r in await store.limit_list()}[name]


async def complete(
    store: JobStore,
    row: JobRow,
    *,
    tokens: float | None = None,
    blocked_until: datetime | None = None,
    worker_id: str = "worker-a",
) -> None:
    """Write a success (or, with `blocked_until`, a snooze) carrying a limit report."""
    snoozed = blocked_until is not None
    written = await store.job_set_state_if_processing(
        worker_id,
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.SCHEDULED if snoozed else JobState.SUCCEEDED,
                reason=StateChangeReason.SNOOZED if snoozed else StateChangeReason.COMPLETED,
                result_json=None if snoozed else "null",
                run_at=blocked_until,
                release=snoozed,
                limit_tokens=tokens,
                limit_blocked_until=blocked_until,
            )
        ],
    )
    assert written == [row.id]


async def test_fetch_starts_no_more_jobs_than_the_rate_allows_in_a_period(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="api", rate=3, period_seconds=60))
    await store.job_insert_many([limited("api") for _ in range(10)])

    first = await store.job_fetch_available(fetch(limit=10))
    for row in first:
        await complete(store, row)  # finishing gives no start back, unlike a slot
    second = await store.job_fetch_available(fetch(limit=10))

    assert (len(first), len(second)) == (3, 0)
    info = await limit_row(store, "api")
    assert (info.rate, info.max_running, info.running) == (3, None, 0)
    assert info.starts_used == pytest.approx(3, abs=0.01)


async def test_concurrent_fetchers_never_exceed_the_rate(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", rate=5, period_seconds=60))
    await store.job_insert_many([limited("api") for _ in range(30)])

    batches = await asyncio.gather(
        *(store.job_fetch_available(fetch(f"worker-{i}", limit=2)) for i in range(8))
    )
    again = await asyncio.gather(
        *(store.job_fetch_available(fetch(f"worker-{i}", limit=2)) for i in range(8))
    )

    assert sum(len(b) for b in batches) == 5
    assert sum(len(b) for b in again) == 0


async def test_concurrent_fetchers_never_overspend_the_token_budget(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=1000, period_seconds=3600))
    await store.job_insert_many([limited("llm", tokens=300) for _ in range(20)])

    batches = await asyncio.gather(
        *(store.job_fetch_available(fetch(f"worker-{i}", limit=2)) for i in range(8))
    )

    assert sum(len(b) for b in batches) == 3  # 3 x 300 <= 1000 < 4 x 300


async def test_the_start_rate_refills_continuously(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", rate=4, period_seconds=1.0))
    await store.job_insert_many([limited("api") for _ in range(10)])
    assert len(await store.job_fetch_available(fetch())) == 4
    spent = time.monotonic()
    later: list[JobRow] = []

    async def refilled() -> bool:
        later.extend(await store.job_fetch_available(fetch()))
        return bool(later)

    await wait_for(refilled, timeout=5, interval=0.02, message="a start refilled")

    # One start comes back every 1/4 s: never all of them at once, never before its time.
    assert len(later) == 1
    assert time.monotonic() - spent >= 0.2


async def test_a_rate_and_a_cap_both_hold(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", max_running=2, rate=10, period_seconds=60))
    await store.job_insert_many([limited("api") for _ in range(10)])

    first = await store.job_fetch_available(fetch())
    await complete(store, first[0])
    second = await store.job_fetch_available(fetch())

    assert (len(first), len(second)) == (2, 1)


async def test_the_token_budget_admits_jobs_by_their_reserved_estimates(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=1000, period_seconds=60))
    await store.job_insert_many([limited("llm", tokens=300) for _ in range(5)])

    first = await store.job_fetch_available(fetch())
    second = await store.job_fetch_available(fetch("worker-b"))

    assert (len(first), len(second)) == (3, 0)
    assert (await limit_row(store, "llm")).tokens_used == pytest.approx(900, abs=1)


async def test_reported_usage_replaces_the_reservation(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=1000, period_seconds=60))
    await store.job_insert_many([limited("llm", tokens=300) for _ in range(5)])
    first = await store.job_fetch_available(fetch())
    assert len(first) == 3

    await complete(store, first[0], tokens=20)  # 900 - 300 + 20 = 620 used

    assert (await limit_row(store, "llm")).tokens_used == pytest.approx(620, abs=1)
    assert len(await store.job_fetch_available(fetch())) == 1  # 920 used now
    assert await store.job_fetch_available(fetch()) == []


async def test_usage_above_the_estimate_spends_the_budget_ahead(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=1000, period_seconds=60))
    await store.job_insert_many([limited("llm", tokens=100) for _ in range(5)])
    [row] = await store.job_fetch_available(fetch(limit=1))

    await complete(store, row, tokens=950)

    assert (await limit_row(store, "llm")).tokens_used == pytest.approx(950, abs=1)
    assert await store.job_fetch_available(fetch()) == []


async def test_a_job_bigger_than_the_budget_starts_alone_on_a_full_bucket(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=100, period_seconds=60))
    await store.job_insert_many([limited("llm", tokens=500), limited("llm", tokens=1)])

    first = await store.job_fetch_available(fetch())

    assert len(first) == 1
    assert await store.job_fetch_available(fetch()) == []


async def test_a_rate_limited_job_blocks_its_limit_until_retry_after(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", max_running=5))
    await store.job_insert_many([limited("api") for _ in range(3)])
    [row] = await store.job_fetch_available(fetch(limit=1))
    [free] = await store.job_insert_many([job_params()])
    until = datetime.now(UTC) + timedelta(seconds=60)

    await complete(store, row, blocked_until=until)

    claimed = await store.job_fetch_available(fetch())
    assert [r.id for r in claimed] == [free.id], "jobs without the limit still run"
    blocked = (await limit_row(store, "api")).blocked_until
    assert blocked is not None
    assert abs(blocked - until) < timedelta(seconds=1)


async def test_starts_resume_once_the_block_has_passed(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", max_running=5))
    await store.job_insert_many([limited("api") for _ in range(3)])
    [row] = await store.job_fetch_available(fetch(limit=1))
    await complete(store, row, blocked_until=datetime.now(UTC) + timedelta(seconds=0.5))
    assert await store.job_fetch_available(fetch()) == []
    resumed: list[JobRow] = []

    async def unblocked() -> bool:
        resumed.extend(await store.job_fetch_available(fetch()))
        return bool(resumed)

    await wait_for(unblocked, timeout=5, interval=0.05, message="starts resumed")
    assert len(resumed) == 3, "the two waiting and the snoozed one, due at the same time"


async def test_a_later_block_is_never_shortened(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="api", max_running=5))
    await store.job_insert_many([limited("api") for _ in range(2)])
    first, second = await store.job_fetch_available(fetch(limit=2))
    long = datetime.now(UTC) + timedelta(seconds=120)

    await complete(store, first, blocked_until=long)
    await complete(store, second, blocked_until=datetime.now(UTC) + timedelta(seconds=5))

    blocked = (await limit_row(store, "api")).blocked_until
    assert blocked is not None
    assert abs(blocked - long) < timedelta(seconds=1)


async def test_limit_upsert_stores_rates_and_a_cap_of_none(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=3))
    await store.limit_upsert(LimitParams(name="llm", rate=60, tokens=40_000, period_seconds=30.0))

    row = await limit_row(store, "llm")

    assert (row.max_running, row.rate, row.tokens, row.period_seconds) == (None, 60, 40_000, 30.0)
    assert (row.starts_used, row.tokens_used, row.blocked_until) == (0.0, 0.0, None)


async def test_raising_a_rate_at_run_time_takes_effect_at_once(store: JobStore) -> None:
    # Two starts of 2 an hour fill the bucket. Raised to 100 an hour, 98 more may start
    # now: the starts already made count as 2, not as a full period of the new rate.
    await store.limit_upsert(LimitParams(name="api", rate=2, period_seconds=3600))
    await store.job_insert_many([limited("api") for _ in range(5)])
    assert len(await store.job_fetch_available(fetch(limit=10))) == 2

    await store.limit_upsert(LimitParams(name="api", rate=100, period_seconds=3600))

    assert len(await store.job_fetch_available(fetch(limit=10))) == 3
    assert (await limit_row(store, "api")).starts_used == pytest.approx(5, abs=0.1)


async def test_a_shorter_period_set_at_run_time_takes_effect_at_once(store: JobStore) -> None:
    # 2 an hour, both spent; now 10 a second: the bucket refills in a second, not an hour.
    await store.limit_upsert(LimitParams(name="api", rate=2, period_seconds=3600))
    await store.job_insert_many([limited("api") for _ in range(5)])
    assert len(await store.job_fetch_available(fetch(limit=10))) == 2

    await store.limit_upsert(LimitParams(name="api", rate=10, period_seconds=1))

    assert len(await store.job_fetch_available(fetch(limit=10))) == 3


async def test_a_larger_token_budget_set_at_run_time_takes_effect_at_once(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="llm", tokens=1000, period_seconds=3600))
    await store.job_insert_many([limited("llm", tokens=500) for _ in range(4)])
    assert len(await store.job_fetch_available(fetch(limit=10))) == 2

    await store.limit_upsert(LimitParams(name="llm", tokens=3000, period_seconds=3600))

    assert len(await store.job_fetch_available(fetch(limit=10))) == 2
    assert (await limit_row(store, "llm")).tokens_used == pytest.approx(2000, abs=1)


async def test_a_limit_removed_and_defined_again_keeps_counting_what_runs(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="gpu", max_running=1))
    await store.job_insert_many([limited("gpu") for _ in range(3)])
    [held] = await store.job_fetch_available(fetch(limit=10))
    assert await store.limit_delete("gpu")
    [unlimited] = await store.job_fetch_available(fetch(limit=1))
    await store.limit_upsert(LimitParams(name="gpu", max_running=1))
    await complete(store, unlimited)

    # `held` still runs: the cap of 1 is full.
    assert await store.job_fetch_available(fetch(limit=10)) == []
    assert held.state is JobState.PROCESSING
