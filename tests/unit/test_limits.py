"""Limit declarations and what an enqueue stores for them (no database)."""

from __future__ import annotations

import pytest

import medley
from medley.application.errors import ConfigError
from medley.infrastructure.jobs.limits import limit, limit_meta
from medley.infrastructure.jobs.registry import JobRegistry, job

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

    assert Settings(limits="llm=3, tenant=2").limit_map() == {"llm": 3, "tenant": 2}
    assert Settings().limit_map() == {}


@pytest.mark.parametrize("bad", ["llm", "llm=", "=3", "llm=-1", "llm=x"])
def test_settings_refuse_a_malformed_limit(bad: str) -> None:
    from medley.config import Settings

    with pytest.raises(ConfigError):
        Settings(limits=bad).limit_map()
