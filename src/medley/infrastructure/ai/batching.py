"""Many small items, few jobs, fewer model calls: the batching pattern, reusable.

Two levels, because they answer different costs:

* **Items per job** (`submit_chunked`): a job costs an enqueue, a fetch and an outcome
  write. Thousands of 5 ms items as thousands of jobs spend more on the queue than on
  the work; chunks of tens amortise it, and each chunk still retries, reports progress
  and can be cancelled on its own.
* **Items per model call** (`length_batches`, `map_batched`): a model call pads every
  input to the longest one in it. Sorting by length before cutting into batches of 8–16
  keeps padding (wasted compute) small; results come back in the caller's order.

Any job can use them: `submit_chunked(service, "app.resize", image_ids, size=50)` fans
out (or `chunk_requests(...)` as the members of an engine batch, with a callback when
all are done); inside the job, `await map_batched(items, model_call, size=16, length=len)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from medley.application.interfaces import BackgroundJobService
from medley.application.models.jobs import EnqueueRequest, EnqueueResult, JobOptions

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` cut into consecutive lists of at most `size` (order kept)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def length_batches(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indexes into `lengths`, sorted by length and cut into batches of at most `size`:
    neighbours in a batch have similar lengths, so padding to the longest wastes little."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return chunks(order, size)


async def map_batched(
    items: Sequence[T],
    call: Callable[[list[T]], Awaitable[Sequence[R]]],
    *,
    size: int,
    length: Callable[[T], int],
    on_batch: Callable[[int, int], Awaitable[None]] | None = None,
) -> list[R]:
    """`await call(batch)` on length-sorted batches of `items`; results in the order of
    `items`. `call` returns one result per item it was given. `on_batch(done, total)`
    runs after each batch: report progress or check cancellation there (raising stops
    the remaining batches)."""
    results: list[R | None] = [None] * len(items)
    batches = length_batches([length(item) for item in items], size)
    for number, batch in enumerate(batches, start=1):
        outputs = await call([items[i] for i in batch])
        if len(outputs) != len(batch):
            raise ValueError(f"batch call returned {len(outputs)} results for {len(batch)} items")
        for index, output in zip(batch, outputs, strict=True):
            results[index] = output
        if on_batch is not None:
            await on_batch(number, len(batches))
    return results  # type: ignore[return-value]  # every slot was filled above


def chunk_requests(
    job: str,
    items: Sequence[Any],
    *,
    size: int,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    options: JobOptions | None = None,
) -> list[EnqueueRequest]:
    """One `job` request per chunk of `items`, called as `job(*args, chunk, **kwargs)`:
    for `submit_many`, or as the members of a batch (`submit_batch`)."""
    return [
        EnqueueRequest(
            job=job, args=(*args, chunk), kwargs=kwargs or {}, options=options or JobOptions()
        )
        for chunk in chunks(items, size)
    ]


async def submit_chunked(
    service: BackgroundJobService,
    job: str,
    items: Sequence[Any],
    *,
    size: int,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    options: JobOptions | None = None,
) -> list[EnqueueResult]:
    """Enqueue one `job` per chunk of `items`, in one round trip (see `chunk_requests`).
    Returns the results in chunk order."""
    requests = chunk_requests(job, items, size=size, args=args, kwargs=kwargs, options=options)
    return await service.submit_many(requests) if requests else []
