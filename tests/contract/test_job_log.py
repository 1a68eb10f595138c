"""Per-job log lines: numbering, bounds (oldest dropped, counted), deletion with the job,
and the request metadata stored with a job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import (
    JobLogAppendParams,
    JobLogEntry,
    JobLogListParams,
    JobStore,
)
from tests.support.jobs import claim, finish, insert_job, job_params, utcnow

pytestmark = pytest.mark.contract

MAX_LINES = 5
MAX_BYTES = 10_000


def entries(
    job_id: int, *messages: str, first_pos: int = 1, skipped_bytes: int = 0
) -> list[JobLogEntry]:
    """Lines placed right after the job's last stored line (or after `first_pos - 1`
    lines of `skipped_bytes` the worker dropped in memory)."""
    placed: list[JobLogEntry] = []
    before = skipped_bytes
    for i, message in enumerate(messages):
        placed.append(
            JobLogEntry(
                job_id=job_id,
                attempt=1,
                at=utcnow(),
                level="INFO",
                logger="medley.job",
                message=message,
                pos=first_pos + i,
                boff=before,
            )
        )
        before += len(message.encode())
    return placed


async def append(
    store: JobStore,
    lines: list[JobLogEntry],
    *,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
) -> int:
    return await store.job_log_append(
        JobLogAppendParams(entries=lines, max_lines=max_lines, max_bytes=max_bytes)
    )


async def messages(store: JobStore, job_id: int) -> tuple[list[str], int]:
    rows = await store.job_log_list(JobLogListParams(job_id=job_id))
    return [line.message for line in rows.lines], rows.dropped


async def test_job_log_append_numbers_lines_on_from_the_last_stored_one(store: JobStore) -> None:
    job = await insert_job(store)

    assert await append(store, entries(job.id, "a", "b")) == 2
    assert await append(store, entries(job.id, "c")) == 1

    rows = await store.job_log_list(JobLogListParams(job_id=job.id))
    assert [(r.seq, r.message) for r in rows.lines] == [(1, "a"), (2, "b"), (3, "c")]
    assert rows.dropped == 0
    assert rows.lines[0].level == "INFO"
    assert rows.lines[0].logger == "medley.job"
    assert rows.lines[0].at.tzinfo is not None


async def test_job_log_append_keeps_jobs_apart_in_one_batch(store: JobStore) -> None:
    first, second = await insert_job(store), await insert_job(store)

    await append(store, entries(first.id, "1a") + entries(second.id, "2a", "2b"))

    assert await messages(store, first.id) == (["1a"], 0)
    assert await messages(store, second.id) == (["2a", "2b"], 0)


async def test_job_log_append_drops_the_oldest_lines_past_max_lines(store: JobStore) -> None:
    job = await insert_job(store)

    await append(store, entries(job.id, "1", "2", "3", "4"))
    await append(store, entries(job.id, "5", "6", "7"))

    assert await messages(store, job.id) == (["3", "4", "5", "6", "7"], 2)


async def test_job_log_append_drops_the_oldest_lines_past_max_bytes(store: JobStore) -> None:
    job = await insert_job(store)

    await append(store, entries(job.id, "aaaa", "bbbb"), max_bytes=10)
    await append(store, entries(job.id, "cccc"), max_bytes=10)

    assert await messages(store, job.id) == (["bbbb", "cccc"], 1)


async def test_job_log_append_counts_bytes_not_characters(store: JobStore) -> None:
    job = await insert_job(store)

    await append(store, entries(job.id, "é" * 3, "é" * 3), max_bytes=11)

    assert (await messages(store, job.id))[0] == ["é" * 3]


async def test_job_log_append_after_lines_dropped_in_memory_replaces_every_older_line(
    store: JobStore,
) -> None:
    job = await insert_job(store)
    await append(store, entries(job.id, "old-1", "old-2"))

    # The worker dropped 10 lines between two appends: what it sends is newer than those.
    await append(store, entries(job.id, "new-1", "new-2", first_pos=11, skipped_bytes=50))

    rows = await store.job_log_list(JobLogListParams(job_id=job.id))
    assert [(r.seq, r.message) for r in rows.lines] == [(13, "new-1"), (14, "new-2")]
    assert rows.dropped == 12


async def test_job_log_list_pages_after_a_line_number(store: JobStore) -> None:
    job = await insert_job(store)
    await append(store, entries(job.id, "a", "b", "c", "d"))

    page = await store.job_log_list(JobLogListParams(job_id=job.id, after_seq=1, limit=2))

    assert [r.message for r in page.lines] == ["b", "c"]


async def test_job_log_list_of_a_job_without_lines_is_empty(store: JobStore) -> None:
    job = await insert_job(store)

    assert await messages(store, job.id) == ([], 0)


async def test_job_log_append_skips_lines_of_jobs_that_are_gone(store: JobStore) -> None:
    job = await insert_job(store)

    stored = await append(store, entries(job.id + 1000, "lost") + entries(job.id, "kept"))

    assert stored == 1
    assert await messages(store, job.id + 1000) == ([], 0)


async def test_job_log_lines_are_deleted_with_their_job(store: JobStore) -> None:
    job = await insert_job(store)
    await append(store, entries(job.id, "a"))

    await store.job_delete(job.id)

    assert await messages(store, job.id) == ([], 0)


async def test_job_log_lines_are_pruned_with_their_job(store: JobStore) -> None:
    await insert_job(store)
    row = await claim(store)
    await append(store, entries(row.id, "a"))
    await finish(store, row)

    await store.job_prune(JobState.SUCCEEDED, utcnow() + timedelta(seconds=5))

    assert await messages(store, row.id) == ([], 0)


async def test_job_meta_is_stored_and_read_back_by_get_and_fetch(store: JobStore) -> None:
    meta = {"request_id": "req-123", "traceparent": "00-abc-def-01"}
    [result] = await store.job_insert_many([job_params(meta=meta)])

    stored = await store.job_get(result.id)
    fetched = await claim(store)

    assert stored is not None
    assert stored.meta == meta
    assert fetched.meta == meta


async def test_job_meta_is_stored_by_bulk_inserts(store: JobStore) -> None:
    params = [job_params(meta={"request_id": f"r{i}"}) for i in range(70)]

    results = await store.job_insert_many(params)

    last = await store.job_get(results[-1].id)
    assert last is not None
    assert last.meta == {"request_id": "r69"}


async def test_job_meta_defaults_to_empty(store: JobStore) -> None:
    job = await insert_job(store)

    row = await store.job_get(job.id)

    assert row is not None
    assert row.meta == {}


async def test_job_log_bounds_hold_over_many_appends_and_jobs(store: JobStore) -> None:
    first, second = await insert_job(store), await insert_job(store)
    for n in range(0, 30, 3):
        batch = [str(n + i) for i in range(3)]
        lines = entries(first.id, *batch) + entries(second.id, *batch)
        await append(store, lines, max_lines=100, max_bytes=12)

    expected = [str(n) for n in range(24, 30)]  # 12 bytes: six 2-digit lines
    assert await messages(store, first.id) == (expected, 24)
    assert await messages(store, second.id) == (expected, 24)
