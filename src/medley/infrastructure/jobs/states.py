"""The state machine: which transitions are legal. Pure; SQL guards enforce the same rules."""

from __future__ import annotations

from medley.application.models.jobs import JobState

S = JobState

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.SCHEDULED: frozenset({S.ENQUEUED, S.PROCESSING, S.CANCELLED}),
    S.ENQUEUED: frozenset({S.PROCESSING, S.SCHEDULED, S.CANCELLED}),
    S.AWAITING: frozenset({S.ENQUEUED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED, S.SCHEDULED, S.ENQUEUED, S.CANCELLED}),
    S.SUCCEEDED: frozenset({S.ENQUEUED}),
    S.FAILED: frozenset({S.ENQUEUED}),
    S.CANCELLED: frozenset({S.ENQUEUED}),
}
"""From-state -> states it may move to. Final states move only by a user's retry."""

CANCELLABLE = frozenset({S.SCHEDULED, S.ENQUEUED, S.AWAITING})
"""States a cancel finishes at once; a processing job is asked to stop instead."""

RETRYABLE = frozenset({S.FAILED, S.CANCELLED, S.SUCCEEDED})
"""States a user may send back to the queue."""

DELETABLE = frozenset(set(JobState) - {S.PROCESSING})
"""A processing job is owned by a worker: cancel it first."""


def can_transition(from_state: JobState, to_state: JobState) -> bool:
    """True if the state machine allows `from_state -> to_state`."""
    return to_state in TRANSITIONS[from_state]
