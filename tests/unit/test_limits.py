"""Limit declarations and what an enqueue stores for them (no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import medley
from medley.application.errors import ConfigError
from medley.infrastructure.jobs.limit_spec import LimitSpec, limit_spec, parse_rate
from medley.infrastructure.jobs.limits import limit, limit_meta
from medley.infrastructure.jobs.registry import JobRegistry, job
from medley.infrastructure.jobs.storage.limit_records import LimitWaits
from tests.support.wait import wait_for

pytestmark = pytest.mark.unit


def test_limit_registers_its_definition_in_the_registry() -> None:
    registry = JobRegistry()

    definition = limit("llm", max_running=3, registry=registry)

    assert registry.limits == {"llm": definition}
    assert definition.max_running == 3


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigError):
        limit("llm", max_running=-1, registry=JobRegistry())


def test_a_job_without_a_limit_stores_nothing_for_it() -> None:
    @job(registry=JobRegistry())
    def plain(x: int) -> int:
        return x

    assert limit_meta(plain, [1], {}) == {}


def test_a_limited_job_stores_its_limit_name() -> None:
    @job(limit="llm", registry=JobRegistry())
    async def call(prompt: str) -> str:
        return prompt

    assert limit_meta(call, ["hi"], {}) == {"limit": "llm"}


@pytest.mark.parametrize(
    ("args", "kwargs", "key"),
    [
        ((), {"tenant_id": "acme"}, "acme"),
        (("acme",), {}, "acme"),
        ((42,), {}, "42"),
        (("acme", 3), {}, "acme"),
    ],
)
def test_a_keyed_limit_takes_its_key_from_the_named_argument_however_passed(
    args: tuple[object, ...], kwargs: dict[str, object], key: str
) -> None:
    @job(limit="tenant", limit_key_arg="tenant_id", registry=JobRegistry())
    async def reindex(ctx: medley.JobContext, tenant_id: object, depth: int = 1) -> None:
        return None

    assert limit_meta(reindex, list(args), kwargs) == {"limit": "tenant", "limit_key": key}


def test_limit_key_arg_without_a_limit_is_refused() -> None:
    with pytest.raises(ConfigError):

        @job(limit_key_arg="tenant_id", registry=JobRegistry())
        def orphan(tenant_id: str) -> None:
            return None


def test_settings_parse_limits_declared_in_the_environment() -> None:
    from medley.config import Settings

    assert Settings(limits="llm=3, tenant=2").limit_map() == {
        "llm": LimitSpec(max_running=3),
        "tenant": LimitSpec(max_running=2),
    }
    assert Settings().limit_map() == {}


def test_settings_parse_rates_and_token_budgets() -> None:
    from medley.config import Settings

    limits = Settings(limits="llm=max:3 rate:60/min tokens:1000/s, api=rate:20/1s").limit_map()

    assert limits == {
        "llm": LimitSpec(max_running=3, rate=60, tokens=60_000, period_seconds=60.0),
        "api": LimitSpec(rate=20, period_seconds=1.0),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/min", (60, 60.0)),
        ("20/1s", (20, 1.0)),
        ("100/30s", (100, 30.0)),
        ("5/hour", (5, 3600.0)),
    ],
)
def test_parse_rate_reads_a_count_per_period(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("bad", ["60", "0/min", "5/fortnight", "x/min", ""])
def test_parse_rate_refuses_malformed_text(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_rate(bad)


def test_limit_with_rates_declares_them_per_period() -> None:
    registry = JobRegistry()

    definition = limit("api", rate=30, tokens=9000, per=timedelta(seconds=30), registry=registry)

    assert (definition.max_running, definition.rate, definition.tokens) == (None, 30, 9000)
    assert definition.period_seconds == 30.0


def test_limit_refuses_a_rate_below_one() -> None:
    with pytest.raises(ConfigError):
        limit("api", rate=0, registry=JobRegistry())


def test_enqueue_stores_the_token_estimate_of_the_definition_or_the_override() -> None:
    registry = JobRegistry()

    @job(limit="llm", tokens=lambda prompt: len(prompt) // 4 + 100, registry=registry)
    def complete(prompt: str) -> str:
        return prompt

    @job(limit="llm", tokens=500, registry=registry)
    def fixed() -> None:
        return None

    assert limit_meta(complete, ["x" * 400], {}) == {"limit": "llm", "limit_tokens": 200}
    assert limit_meta(fixed, [], {}) == {"limit": "llm", "limit_tokens": 500}
    assert limit_meta(fixed, [], {}, 50) == {"limit": "llm", "limit_tokens": 50}


def test_tokens_without_a_limit_are_refused() -> None:
    with pytest.raises(ConfigError):

        @job(tokens=100, registry=JobRegistry())
        def orphan() -> None:
            return None


@pytest.mark.parametrize(
    "bad", ["llm", "llm=", "=3", "llm=-1", "llm=x", "llm=rate:60", "llm=max:3 max:4", "llm=burst:3"]
)
def test_settings_refuse_a_malformed_limit(bad: str) -> None:
    from medley.config import Settings

    with pytest.raises(ConfigError):
        Settings(limits=bad).limit_map()


async def test_a_wait_hint_counts_down_and_expires_rather_than_reaching_zero() -> None:
    waits = LimitWaits()
    waits.set("ai", 0.05)
    waits.set("default", None)

    first = waits.get("ai")

    assert first is not None
    assert 0 < first <= 0.05
    assert waits.get("default") is None
    await wait_for(lambda: waits.get("ai") is None, timeout=2, message="the hint expired")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 5, "per": float("inf")},
        {"rate": 5, "per": float("nan")},
        {"tokens": 5, "per": timedelta(days=400)},
        {"max_running": 2**31},
        {"rate": 2**31},
        {"tokens": 2**62 + 1},
    ],
)
def test_limit_refuses_bounds_the_database_cannot_hold(kwargs: dict[str, object]) -> None:
    # An infinite period used to be stored and then break every fetch of the limit's
    # queue (PostgreSQL: `integer out of range` in medley_limit_grant).
    with pytest.raises(ConfigError):
        limit("api", registry=JobRegistry(), **kwargs)  # type: ignore[arg-type]


def test_parse_rate_refuses_a_period_too_long_for_a_duration() -> None:
    with pytest.raises(ConfigError, match="invalid rate"):
        parse_rate("5/99999999999999d")


def test_a_bad_token_budget_is_named_as_such() -> None:
    with pytest.raises(ConfigError, match=r"invalid token budget '-5'"):
        limit_spec(tokens="-5")


def test_a_token_budget_that_cannot_be_scaled_to_the_rate_period_is_refused() -> None:
    assert limit_spec(rate="60/min", tokens="1000/s").tokens == 60_000  # exact: kept
    with pytest.raises(ConfigError, match="same period"):
        limit_spec(rate="10/min", tokens="100/h")  # 1.67 a minute: was rounded to 2


def test_a_bad_rate_in_medley_limits_names_its_limit() -> None:
    from medley.config import Settings

    with pytest.raises(ConfigError, match=r"^invalid limit api='rate:abc': invalid rate 'abc'"):
        Settings(limits="llm=3,api=rate:abc").limit_map()
