"""`runtime/queues.py`: the `--queues` syntax, the total-slot rule, per-queue slot
accounting and the strict/weighted fetch order (pure; no database)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from medley.infrastructure.jobs.runtime.queues import (
    QueueOrder,
    QueueSlots,
    QueueSpec,
    format_queue_spec,
    parse_queues,
    total_slots,
)
from medley.infrastructure.jobs.runtime.server import WorkerConfig

pytestmark = pytest.mark.unit


def test_parse_queues_reads_names_slots_and_weights() -> None:
    assert parse_queues("ai:4, default:16@2,low@3 , bulk") == [
        QueueSpec("ai", 4, 1),
        QueueSpec("default", 16, 2),
        QueueSpec("low", None, 3),
        QueueSpec("bulk", None, 1),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ai:x", "invalid queue 'ai:x': expected NAME[:SLOTS][@WEIGHT]"),
        ("ai:0", "slots must be at least 1"),
        ("ai@0", "weight must be at least 1"),
        (":4", "expected NAME[:SLOTS][@WEIGHT]"),
        ("ai,ai:2", "queue 'ai' is listed twice"),
        (" , ", "a worker needs at least one queue"),
    ],
)
def test_parse_queues_rejects_bad_syntax_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_queues(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["ai", "ai:4", "ai@3", "ai:4@3"])
def test_format_queue_spec_round_trips(text: str) -> None:
    [spec] = parse_queues(text)
    assert format_queue_spec(spec) == text


@pytest.mark.parametrize(
    ("text", "concurrency", "total"),
    [
        ("ai:4,default:16", None, 20),
        ("ai:4,default", None, 10),
        ("ai:4,default:16", 8, 8),
        ("default", None, 10),
    ],
)
def test_total_slots_is_concurrency_or_the_sum_of_caps(
    text: str, concurrency: int | None, total: int
) -> None:
    assert total_slots(parse_queues(text), concurrency) == total


def test_worker_config_normalises_queue_specs() -> None:
    config = WorkerConfig(queues=["ai:4@2", "default"], queue_slots={"default": 16})

    assert config.queues == ("ai", "default")
    assert config.queue_slots == {"ai": 4, "default": 16}
    assert config.queue_weights == {"ai": 2, "default": 1}
    assert config.concurrency == 20


def test_worker_config_rejects_caps_for_queues_it_does_not_serve() -> None:
    with pytest.raises(ValueError, match="not served"):
        WorkerConfig(queues=["ai"], queue_slots={"other": 1})


def test_queue_slots_free_is_the_lesser_of_queue_and_total() -> None:
    slots = QueueSlots(["ai", "default"], {"ai": 2}, total=3)
    assert (slots.free("ai"), slots.free("default")) == (2, 3)

    slots.take("ai")
    slots.take("ai")

    assert (slots.free("ai"), slots.free("default")) == (0, 1)
    assert slots.usage() == {"ai": {"busy": 2, "max": 2}, "default": {"busy": 0, "max": 3}}
    assert slots.give_back("ai") is True  # ai was at its cap: a fetch may start more
    assert slots.give_back("ai") is False


def test_strict_order_is_always_the_configured_one() -> None:
    order = QueueOrder(["high", "low"], {"high": 5, "low": 1})
    assert {tuple(order.next()) for _ in range(10)} == {("high", "low")}


def test_weighted_order_puts_each_queue_first_in_proportion_to_its_weight() -> None:
    order = QueueOrder(["high", "mid", "low"], {"high": 5, "mid": 2, "low": 1}, "weighted")

    firsts = [order.next()[0] for _ in range(80)]

    assert Counter(firsts) == {"high": 50, "mid": 20, "low": 10}
    assert "low" in firsts[:8]  # every queue gets a turn within one round of weights
    assert sorted(order.next()) == ["high", "low", "mid"]  # every queue is still asked
