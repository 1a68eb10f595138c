from __future__ import annotations

import pytest

from medley.infrastructure.jobs.storage.port import JobStore
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract

TTL = 30.0


async def test_first_candidate_is_elected(store: JobStore) -> None:
    assert await store.leader_attempt_elect("maintenance", "server-a", TTL) is True


async def test_second_candidate_loses_while_the_term_is_valid(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", TTL)

    assert await store.leader_attempt_elect("maintenance", "server-b", TTL) is False


async def test_leader_is_reelected_while_it_holds_the_term(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", TTL)

    assert await store.leader_attempt_elect("maintenance", "server-a", TTL) is True
    assert await store.leader_attempt_elect("maintenance", "server-b", TTL) is False


async def test_terms_of_different_names_are_independent(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", TTL)

    assert await store.leader_attempt_elect("cron", "server-b", TTL) is True


async def test_another_candidate_is_elected_after_the_leader_resigns(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", TTL)

    await store.leader_resign("maintenance", "server-a")

    assert await store.leader_attempt_elect("maintenance", "server-b", TTL) is True
    assert await store.leader_attempt_elect("maintenance", "server-a", TTL) is False


async def test_resign_by_a_non_leader_changes_nothing(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", TTL)

    await store.leader_resign("maintenance", "server-b")

    assert await store.leader_attempt_elect("maintenance", "server-b", TTL) is False


async def test_another_candidate_is_elected_after_the_term_expires(store: JobStore) -> None:
    await store.leader_attempt_elect("maintenance", "server-a", 0.05)

    await wait_for(lambda: store.leader_attempt_elect("maintenance", "server-b", TTL))

    assert await store.leader_attempt_elect("maintenance", "server-a", TTL) is False
