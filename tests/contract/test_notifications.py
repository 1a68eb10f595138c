from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    CHANNEL_CANCEL,
    CHANNEL_JOBS,
    JobCompletion,
    JobStore,
    Subscription,
)
from tests.support.jobs import InsertJob, claim, finish, job_params, utcnow
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract


@dataclass
class Recorder:
    """Collects (channel, payload) notifications, as a subscriber callback."""

    received: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, channel: str, payload: str) -> None:
        self.received.append((channel, payload))

    async def expect(self, channel: str, payload: str) -> None:
        await wait_for(
            lambda: (channel, payload) in self.received,
            message=f"notification {channel}:{payload}; got {self.received}",
        )


@pytest.fixture
async def notes(store: JobStore) -> AsyncIterator[Recorder | None]:
    """A live subscription's recorder, or None for stores that cannot notify."""
    recorder = Recorder()
    subscription: Subscription | None = await store.subscribe(recorder)
    if subscription is None:
        yield None
        return
    yield recorder
    await subscription.close()


async def test_subscribe_is_available_exactly_when_the_store_can_notify(store: JobStore) -> None:
    subscription = await store.subscribe(Recorder())

    assert (subscription is not None) is store.capabilities.listen_notify
    if subscription is not None:
        await subscription.close()


async def test_insert_notifies_the_queue_of_an_enqueued_job(
    store: JobStore, insert_job: InsertJob, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll

    await insert_job(store, queue="ai")

    await notes.expect(CHANNEL_JOBS, "ai")


async def test_insert_of_a_large_batch_notifies_each_queue(
    store: JobStore, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll

    await store.job_insert_many([job_params(queue=f"bulk{i % 2}") for i in range(200)])

    await notes.expect(CHANNEL_JOBS, "bulk0")
    await notes.expect(CHANNEL_JOBS, "bulk1")


async def test_insert_of_a_scheduled_job_notifies_nobody(
    store: JobStore, insert_job: InsertJob, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll

    await insert_job(
        store, queue="later", state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1)
    )
    await insert_job(store, queue="marker")
    await notes.expect(CHANNEL_JOBS, "marker")

    assert (CHANNEL_JOBS, "later") not in notes.received


async def test_cancel_of_a_processing_job_notifies_its_worker(
    store: JobStore, insert_job: InsertJob, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll job_get_cancel_requested

    result = await insert_job(store)
    await claim(store)

    await store.job_cancel(result.id)

    await notes.expect(CHANNEL_CANCEL, str(result.id))


async def test_retry_by_a_user_notifies_the_queue(
    store: JobStore, insert_job: InsertJob, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll

    result = await insert_job(store, queue="again")
    await finish(store, await claim(store, queue="again"), JobState.FAILED)
    notes.received.clear()

    await store.job_retry(result.id)

    await notes.expect(CHANNEL_JOBS, "again")


async def test_release_notifies_the_queue(
    store: JobStore, insert_job: InsertJob, notes: Recorder | None
) -> None:
    if notes is None:
        return  # no listen_notify: workers poll

    await insert_job(store, queue="released")
    row = await claim(store, queue="released")
    notes.received.clear()

    await store.job_set_state_if_processing(
        row.lease_owner or "",
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.ENQUEUED,
                reason=StateChangeReason.RELEASED,
                release=True,
            )
        ],
    )

    await notes.expect(CHANNEL_JOBS, "released")
