"""`cancel_and_wait` ends a task even when a cancellation is lost, as Python 3.11's
`asyncio.wait_for` (under psycopg's every wait) loses one that arrives in the same tick
as the result it waits for."""

from __future__ import annotations

import asyncio

import pytest

from medley.infrastructure import tasks
from medley.infrastructure.tasks import cancel_and_wait


async def test_a_task_that_lost_a_cancellation_is_cancelled_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "CANCEL_AGAIN_SECONDS", 0.05)
    passes = 0

    async def loop_that_loses_one_cancel() -> None:
        nonlocal passes
        lost = False
        while True:
            passes += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost = True  # as a `wait_for` whose result arrived in the same tick

    task = asyncio.create_task(loop_that_loses_one_cancel())
    await asyncio.sleep(0)  # the task starts and waits inside its loop
    assert passes == 1

    await asyncio.wait_for(cancel_and_wait(task), timeout=5)

    assert task.cancelled()


async def test_another_exception_of_the_task_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(task)
