"""Leader election among workers sharing one database."""

from __future__ import annotations

import asyncio

import pytest

import medley
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

ROUND = 0.2


async def test_exactly_one_of_two_workers_leads_and_the_other_takes_over_when_it_stops(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    a = await start_worker(leader_seconds=ROUND)
    b = await start_worker(leader_seconds=ROUND)

    await wait_for(lambda: a.leader.is_leader or b.leader.is_leader, timeout=5, message="a leader")
    # Several election rounds later there is still exactly one leader (sampled invariant).
    for _ in range(int(4 * ROUND / 0.05)):
        assert [a.leader.is_leader, b.leader.is_leader].count(True) == 1
        await asyncio.sleep(0.05)

    leader, follower = (a, b) if a.leader.is_leader else (b, a)
    await leader.stop(grace=0)

    await wait_for(lambda: follower.leader.is_leader, timeout=5, message="the follower took over")
    assert not leader.leader.is_leader
