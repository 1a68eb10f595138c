"""The batching pattern: items per job (fan-out in one round trip) and items per model
call (length-sorted batches, results back in the caller's order)."""

from __future__ import annotations

import pytest

import medley
from medley.infrastructure.ai.batching import (
    chunks,
    length_batches,
    map_batched,
    submit_chunked,
)

pytestmark = pytest.mark.unit


@medley.job(name="tests.ai.resize")
def resize(prefix: str, items: list[int]) -> int:
    return len(items)


def test_chunks_keep_order_and_bound_size() -> None:
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunks([], 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunks([1], 0)


def test_length_batches_group_similar_lengths() -> None:
    lengths = [50, 3, 49, 4, 100, 2]

    batches = length_batches(lengths, 2)

    assert batches == [[5, 1], [3, 2], [0, 4]]


async def test_map_batched_calls_once_per_batch_and_restores_the_order() -> None:
    items = ["ccc", "a", "bbbb", "dd", "e"]
    calls: list[list[str]] = []
    progress: list[tuple[int, int]] = []

    async def call(batch: list[str]) -> list[str]:
        calls.append(batch)
        return [s.upper() for s in batch]

    async def after(done: int, total: int) -> None:
        progress.append((done, total))

    result = await map_batched(items, call, size=2, length=len, on_batch=after)

    assert result == ["CCC", "A", "BBBB", "DD", "E"]
    assert calls == [["a", "e"], ["dd", "ccc"], ["bbbb"]]
    assert progress == [(1, 3), (2, 3), (3, 3)]


async def test_map_batched_refuses_a_call_that_loses_results() -> None:
    async def lossy(batch: list[int]) -> list[int]:
        return batch[:1]

    with pytest.raises(ValueError, match="1 results for 2 items"):
        await map_batched([1, 2], lossy, size=2, length=lambda i: i)


async def test_submit_chunked_enqueues_one_job_per_chunk_in_one_call() -> None:
    service = medley.InProcessJobService()

    results = await submit_chunked(
        service, "tests.ai.resize", list(range(5)), size=2, args=("img",)
    )

    jobs = [await service.get(r.id) for r in results]
    assert [j.args for j in jobs] == [["img", [0, 1]], ["img", [2, 3]], ["img", [4]]]
    assert await submit_chunked(service, "tests.ai.resize", [], size=2) == []
