"""Bad input fails at once with the documented error, and writes nothing."""

from __future__ import annotations

import time

import pytest

import medley
from tests.integration import jobs

pytestmark = pytest.mark.integration


async def _job_count(service: medley.JobService) -> int:
    return sum(c.count for c in await service.store.job_count_by_state())


async def test_enqueue_of_an_unknown_job_name_raises_unknown_job_error(
    service: medley.JobService,
) -> None:
    with pytest.raises(medley.UnknownJobError, match=r"it\.no_such_job"):
        await service.enqueue("it.no_such_job")
    with pytest.raises(medley.UnknownJobError):
        await service.submit(medley.EnqueueRequest(job="it.no_such_job"))

    assert await _job_count(service) == 0


async def test_enqueue_with_arguments_the_job_does_not_take_raises_invalid_arguments(
    service: medley.JobService,
) -> None:
    with pytest.raises(medley.InvalidArgumentsError, match=r"it\.add"):
        await service.enqueue(jobs.add, 1, c=2)
    with pytest.raises(medley.InvalidArgumentsError):
        await service.enqueue(jobs.add, 1, 2, 3)
    with pytest.raises(medley.InvalidArgumentsError):
        await service.enqueue(jobs.echo, object())

    assert await _job_count(service) == 0


async def test_enqueue_many_with_one_bad_call_raises_and_writes_nothing(
    service: medley.JobService,
) -> None:
    with pytest.raises(medley.InvalidArgumentsError, match=r"it\.add"):
        await service.enqueue_many(jobs.add, [(1, 2), (3, 4), (5,)])
    with pytest.raises(medley.InvalidArgumentsError, match="not JSON"):
        await service.enqueue_many(jobs.echo, [(1,), (object(),)])
    with pytest.raises(medley.InvalidArgumentsError, match="tuple"):
        await service.enqueue_many(jobs.echo, [(1,), 2])  # type: ignore[list-item]
    with pytest.raises(medley.UnknownJobError):
        await service.enqueue_many("it.no_such_job", [()])

    assert await _job_count(service) == 0


async def test_a_bad_call_deep_in_a_large_bulk_enqueue_writes_none_of_the_batch(
    database_url: str,
) -> None:
    """A large batch is written while its later rows are still being built (PostgreSQL
    COPYs the first chunks first): a bad call near the end still leaves nothing, and the
    connection it broke off serves the next enqueue."""
    service = await medley.connect_async(database_url, auto_migrate=True, max_payload_bytes=1000)
    try:
        calls: list[tuple[object, ...]] = [(i,) for i in range(1_000)]
        for bad, error in (
            (("x" * 2000,), medley.PayloadTooLargeError),
            ((object(),), medley.InvalidArgumentsError),
        ):
            with pytest.raises(error):
                await service.enqueue_many(jobs.echo, [*calls[:700], bad, *calls[700:]])
            assert await _job_count(service) == 0

        ids = await service.enqueue_many(jobs.echo, calls)
        assert len(set(ids)) == 1_000
        assert await _job_count(service) == 1_000
        assert (await service.get(ids[-1])).state is medley.JobState.ENQUEUED
    finally:
        await service.close()


async def test_payload_over_the_limit_raises_payload_too_large_and_writes_nothing(
    database_url: str,
) -> None:
    service = await medley.connect_async(database_url, auto_migrate=True, max_payload_bytes=1000)
    try:
        with pytest.raises(medley.PayloadTooLargeError) as caught:
            await service.enqueue(jobs.echo, "x" * 2000)
        assert caught.value.limit == 1000
        assert caught.value.size > 1000
        with pytest.raises(medley.PayloadTooLargeError):
            await service.enqueue_many(jobs.echo, [("x",), ("x" * 2000,)])
        await service.enqueue(jobs.echo, "x" * 100)  # under the limit: fine
        assert await _job_count(service) == 1
    finally:
        await service.close()


@pytest.mark.parametrize(
    "url",
    ["mysql://localhost/db", "sqlite://relative.db", "sqlite:///", "postgresql://", "nonsense"],
)
async def test_malformed_database_url_raises_invalid_database_url(url: str) -> None:
    with pytest.raises(medley.InvalidDatabaseUrlError):
        await medley.connect_async(url)
    with pytest.raises(medley.InvalidDatabaseUrlError):
        medley.connect(url)


async def test_unreachable_postgres_raises_storage_unavailable_quickly() -> None:
    started = time.monotonic()

    with pytest.raises(medley.StorageUnavailableError):
        await medley.connect_async("postgresql://postgres@127.0.0.1:1/x", auto_migrate=True)

    assert time.monotonic() - started < 12


@pytest.mark.parametrize(
    "bounds",
    [{"rate": 5, "period": float("inf")}, {"rate": 2**40}, {"max_running": 2**31}],
)
async def test_a_limit_out_of_the_storable_range_is_refused_before_it_is_stored(
    service: medley.JobService, bounds: dict[str, float]
) -> None:
    # Stored, an infinite period broke every fetch of the limit's queue; a rate beyond
    # the integer column was a storage error on PostgreSQL rather than a ConfigError.
    with pytest.raises(medley.ConfigError, match="limit 'api'"):
        await service.limit_set("api", **bounds)  # type: ignore[arg-type]

    assert await service.limit_get("api") is None
