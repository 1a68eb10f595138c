"""Which queues a worker serves, how many slots each may hold, and in which order the
producer asks them for work.

The `--queues` syntax is a comma-separated list of `NAME[:SLOTS][@WEIGHT]`:

- `ai,default` — strict priority: `ai` is always asked first, `default` gets what is
  left. Slots are shared (`--concurrency` caps the total).
- `ai:4,default:16` — per-queue caps: this worker process never runs more than 4 `ai`
  jobs at once (so a GPU or an API quota is not oversubscribed), nor more than 16
  `default` ones; the total is still capped by `--concurrency`.
- `high@5,low@1` with `--queue-mode weighted` — weighted priority: per fetch, `high` is
  asked first five times for every one time `low` is (smooth weighted round-robin), so
  a flood of `high` jobs delays `low` ones but never starves them. Weights are ignored
  in strict mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

QueueMode = Literal["strict", "weighted"]
QUEUE_MODES: tuple[QueueMode, ...] = ("strict", "weighted")

_SPEC = re.compile(r"^(?P<name>[^:@\s]+)(?::(?P<slots>\d+))?(?:@(?P<weight>\d+))?$")


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One `NAME[:SLOTS][@WEIGHT]` entry of `--queues`."""

    name: str
    slots: int | None = None
    """Most jobs of this queue running at once in one worker process; None: no cap of
    its own (only the worker's total)."""
    weight: int = 1
    """Share of first pick in weighted mode."""


def parse_queue_spec(text: str) -> QueueSpec:
    """`ai:4@2` -> QueueSpec("ai", 4, 2). Raises `ValueError` with a one-line reason."""
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(f"invalid queue {text.strip()!r}: expected NAME[:SLOTS][@WEIGHT]")
    slots, weight = match["slots"], match["weight"]
    spec = QueueSpec(
        match["name"],
        int(slots) if slots is not None else None,
        int(weight) if weight is not None else 1,
    )
    if spec.slots is not None and spec.slots < 1:
        raise ValueError(f"invalid queue {text.strip()!r}: slots must be at least 1")
    if spec.weight < 1:
        raise ValueError(f"invalid queue {text.strip()!r}: weight must be at least 1")
    return spec


def parse_queues(items: str | Sequence[str]) -> list[QueueSpec]:
    """A `--queues` value (comma-separated, or already split) -> specs in priority order.
    Raises `ValueError` for bad syntax, an empty list or a queue named twice."""
    parts = items.split(",") if isinstance(items, str) else list(items)
    specs = [parse_queue_spec(part) for part in parts if part.strip()]
    if not specs:
        raise ValueError("a worker needs at least one queue")
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"queue {name!r} is listed twice")
    return specs


def merge_queue_specs(
    queues: str | Sequence[str], slots: Mapping[str, int], weights: Mapping[str, int]
) -> list[QueueSpec]:
    """`queues` entries (`NAME[:SLOTS][@WEIGHT]`) with caps and weights given apart (the
    latter win). Raises `ValueError` for a cap or weight below 1 or for a queue not served."""
    specs = parse_queues(queues)
    names = {s.name for s in specs}
    unknown = (set(slots) | set(weights)) - names
    if unknown:
        raise ValueError(f"slots or weights for queues not served: {sorted(unknown)}")
    if any(v < 1 for v in [*slots.values(), *weights.values()]):
        raise ValueError("queue slots and weights must be at least 1")
    return [
        QueueSpec(s.name, slots.get(s.name, s.slots), weights.get(s.name, s.weight)) for s in specs
    ]


def format_queue_spec(spec: QueueSpec) -> str:
    """The inverse of `parse_queue_spec` (a supervisor passes specs to its children)."""
    slots = f":{spec.slots}" if spec.slots is not None else ""
    weight = f"@{spec.weight}" if spec.weight != 1 else ""
    return f"{spec.name}{slots}{weight}"


class QueueOrder:
    """The order in which one fetch asks the queues for jobs.

    Strict mode always returns the configured order. Weighted mode uses smooth weighted
    round-robin (nginx's upstream balancing): each call adds every queue's weight to its
    credit, puts the queue with the most credit first and charges it the total weight.
    Over `sum(weights)` calls each queue comes first exactly `weight` times, evenly
    spread, so no queue waits more than a bounded number of fetches for its turn.
    Not thread-safe; the producer calls it under its fetch lock.
    """

    def __init__(
        self, queues: Sequence[str], weights: Mapping[str, int], mode: QueueMode = "strict"
    ) -> None:
        if mode not in QUEUE_MODES:
            raise ValueError(f"unknown queue mode {mode!r}: expected strict or weighted")
        self.queues = list(queues)
        self.mode = mode
        self._weights = {q: weights.get(q, 1) for q in self.queues}
        self._credit = dict.fromkeys(self.queues, 0)

    def next(self) -> list[str]:
        """The queues for the next fetch, first-asked first."""
        if self.mode == "strict" or len(self.queues) < 2:
            return list(self.queues)
        total = 0
        for queue, weight in self._weights.items():
            self._credit[queue] += weight
            total += weight
        first = max(self.queues, key=lambda q: self._credit[q])  # ties: configured order
        self._credit[first] -= total
        return [first, *(q for q in self.queues if q != first)]


class QueueSlots:
    """Running jobs of one worker process per queue, against the per-queue caps and the
    total. The producer holds the only instance and calls it from the event loop."""

    def __init__(self, queues: Sequence[str], caps: Mapping[str, int], total: int) -> None:
        self.total = total
        self.caps = {q: min(caps.get(q, total), total) for q in queues}
        self.busy = dict.fromkeys(queues, 0)

    @property
    def running(self) -> int:
        return sum(self.busy.values())

    def free(self, queue: str) -> int:
        """Jobs of `queue` that may start now: the lesser of the queue's and the total's
        free slots."""
        return max(min(self.caps[queue] - self.busy[queue], self.total - self.running), 0)

    def take(self, queue: str) -> None:
        self.busy[queue] = self.busy.get(queue, 0) + 1

    def give_back(self, queue: str) -> bool:
        """Free one slot of `queue`; True if the queue or the total was full, so a fetch
        may now start what it had to leave behind."""
        was_full = self.busy[queue] >= self.caps[queue] or self.running >= self.total
        self.busy[queue] -= 1
        return was_full

    def usage(self) -> dict[str, dict[str, int]]:
        """`{"ai": {"busy": 2, "max": 4}, ...}`, as the heartbeat reports it; an uncapped
        queue's max is the worker's total."""
        return {q: {"busy": self.busy[q], "max": self.caps[q]} for q in self.caps}


DEFAULT_CONCURRENCY = 10


def total_slots(specs: Sequence[QueueSpec], concurrency: int | None) -> int:
    """The worker's total slots: `concurrency` when given; otherwise the sum of the
    per-queue caps when every queue has one (`ai:4,default:16` -> 20), else 10."""
    if concurrency:
        return concurrency
    if all(s.slots is not None for s in specs):
        return sum(s.slots or 0 for s in specs)
    return DEFAULT_CONCURRENCY
