from __future__ import annotations

import itertools

import pytest

from medley.application.models.jobs import FINAL_STATES, LIVE_STATES, JobState
from medley.infrastructure.jobs.states import (
    CANCELLABLE,
    DELETABLE,
    RETRYABLE,
    TRANSITIONS,
    can_transition,
)

pytestmark = pytest.mark.unit

S = JobState

ALLOWED = {
    (S.SCHEDULED, S.ENQUEUED),  # due, moved to the queue
    (S.SCHEDULED, S.PROCESSING),  # due, claimed directly by a fetch
    (S.SCHEDULED, S.CANCELLED),
    (S.ENQUEUED, S.PROCESSING),
    (S.ENQUEUED, S.SCHEDULED),
    (S.ENQUEUED, S.CANCELLED),
    (S.AWAITING, S.ENQUEUED),  # parent succeeded
    (S.AWAITING, S.CANCELLED),
    (S.PROCESSING, S.SUCCEEDED),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.SCHEDULED),  # retry after backoff, or rescued
    (S.PROCESSING, S.ENQUEUED),  # released on shutdown
    (S.PROCESSING, S.CANCELLED),
    (S.SUCCEEDED, S.ENQUEUED),  # retried by a user
    (S.FAILED, S.ENQUEUED),
    (S.CANCELLED, S.ENQUEUED),
}
"""Written out by hand, independently of TRANSITIONS, so that a change to either shows."""


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    list(itertools.product(JobState, JobState)),
    ids=lambda state: str(state),
)
def test_can_transition_allows_exactly_the_documented_moves(
    from_state: JobState, to_state: JobState
) -> None:
    assert can_transition(from_state, to_state) is ((from_state, to_state) in ALLOWED)


def test_transitions_cover_every_state() -> None:
    assert set(TRANSITIONS) == set(JobState)


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_final_states_move_only_back_to_enqueued(state: JobState) -> None:
    assert {t for t in JobState if can_transition(state, t)} == {S.ENQUEUED}


@pytest.mark.parametrize("state", list(JobState))
def test_no_state_moves_to_itself(state: JobState) -> None:
    assert not can_transition(state, state)


@pytest.mark.parametrize("state", list(JobState))
def test_no_state_moves_to_awaiting(state: JobState) -> None:
    assert not can_transition(state, S.AWAITING)


def test_only_processing_reaches_succeeded_or_failed() -> None:
    for target in (S.SUCCEEDED, S.FAILED):
        assert {f for f in JobState if can_transition(f, target)} == {S.PROCESSING}


def test_only_waiting_states_are_claimed_by_a_worker() -> None:
    assert {f for f in JobState if can_transition(f, S.PROCESSING)} == {S.SCHEDULED, S.ENQUEUED}


@pytest.mark.parametrize("state", sorted(LIVE_STATES))
def test_every_live_state_can_be_cancelled(state: JobState) -> None:
    assert can_transition(state, S.CANCELLED)


def test_final_and_live_states_partition_all_states() -> None:
    assert FINAL_STATES.isdisjoint(LIVE_STATES)
    assert set(JobState) == FINAL_STATES | LIVE_STATES
    assert {s for s in JobState if s.is_final} == FINAL_STATES


def test_cancel_finishes_waiting_states_at_once() -> None:
    assert {S.SCHEDULED, S.ENQUEUED, S.AWAITING} == CANCELLABLE
    assert all(can_transition(s, S.CANCELLED) for s in CANCELLABLE)


def test_users_may_retry_exactly_the_final_states() -> None:
    assert RETRYABLE == FINAL_STATES
    assert all(can_transition(s, S.ENQUEUED) for s in RETRYABLE)


def test_every_state_but_processing_is_deletable() -> None:
    assert set(JobState) - DELETABLE == {S.PROCESSING}
