from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medley.application.errors import InvalidArgumentsError, PayloadTooLargeError
from medley.application.models.jobs import JobOptions, JobState
from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.jobs.payload import build_insert, build_insert_many, encode_json
from medley.infrastructure.jobs.registry import JobDefinition, JobRegistry, job

registry = JobRegistry()


@job(name="unit.payload.add", registry=registry, queue="math", priority=5)
def add(a: int, b: int = 0, *, scale: int = 1) -> int:
    return (a + b) * scale


@job(name="unit.payload.ctx", registry=registry)
async def with_ctx(ctx: JobContext, doc: int) -> int:
    return doc


@job(name="unit.payload.var", registry=registry)
def variadic(*args: int, **kwargs: int) -> int:
    return len(args) + len(kwargs)


def _defn(name: str) -> JobDefinition[..., object]:
    return registry.get(name)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 2), {}), ((1,), {"b": 2, "scale": 3}), ((), {"a": 1})],
)
def test_build_insert_accepts_calls_that_bind(
    args: tuple[int, ...], kwargs: dict[str, int]
) -> None:
    params = build_insert(_defn("unit.payload.add"), args, kwargs, JobOptions())
    assert params.queue == "math"
    assert params.priority == 5
    assert params.state is JobState.ENQUEUED


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((), {}, "missing required arguments: a"),
        ((1, 2, 3), {}, "takes 2 positional arguments but 3 were given"),
        ((1,), {"a": 1}, "multiple values for argument 'a'"),
        ((1,), {"typo": 1}, "unexpected keyword argument 'typo'"),
    ],
)
def test_build_insert_rejects_calls_that_would_not_bind(
    args: tuple[int, ...], kwargs: dict[str, int], fragment: str
) -> None:
    with pytest.raises(InvalidArgumentsError, match=fragment):
        build_insert(_defn("unit.payload.add"), args, kwargs, JobOptions())


@pytest.mark.unit
def test_context_parameter_is_not_counted_as_an_argument() -> None:
    build_insert(_defn("unit.payload.ctx"), (7,), {}, JobOptions())
    with pytest.raises(InvalidArgumentsError):
        build_insert(_defn("unit.payload.ctx"), (), {}, JobOptions())


@pytest.mark.unit
def test_variadic_functions_accept_anything() -> None:
    build_insert(_defn("unit.payload.var"), (1, 2, 3), {"x": 1}, JobOptions())


@pytest.mark.unit
def test_non_json_arguments_are_refused_with_the_job_name() -> None:
    with pytest.raises(InvalidArgumentsError, match=r"unit\.payload\.add"):
        build_insert(_defn("unit.payload.add"), ({1, 2},), {}, JobOptions())
    with pytest.raises(InvalidArgumentsError):
        build_insert(_defn("unit.payload.add"), (float("nan"),), {}, JobOptions())


@pytest.mark.unit
def test_payload_over_the_limit_is_refused_with_its_size() -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        build_insert(
            _defn("unit.payload.add"), ("x" * 2000,), {}, JobOptions(), max_payload_bytes=1000
        )
    assert caught.value.size > 2000
    assert caught.value.limit == 1000


@pytest.mark.unit
def test_delay_and_run_at_make_the_job_scheduled() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delayed = build_insert(
        _defn("unit.payload.add"), (1,), {}, JobOptions(delay=timedelta(minutes=5)), now=now
    )
    assert delayed.state is JobState.SCHEDULED
    assert delayed.run_at == now + timedelta(minutes=5)
    past = build_insert(
        _defn("unit.payload.add"), (1,), {}, JobOptions(run_at=now - timedelta(seconds=1)), now=now
    )
    assert past.state is JobState.ENQUEUED
    assert past.run_at is None


@job(name="unit.payload.tenant", registry=registry, limit="tenant", limit_key_arg="tenant")
def per_tenant(tenant: str, n: int) -> int:
    return n


@job(name="unit.payload.tokens", registry=registry, limit="llm", tokens=lambda n: n)
def estimated(n: int) -> int:
    return n


@pytest.mark.unit
def test_build_insert_many_builds_what_build_insert_builds_for_each_call() -> None:
    now = datetime.now(UTC)
    options = JobOptions(queue="other", tags=("t",), timeout=timedelta(seconds=3))
    cases: list[tuple[str, list[Sequence[Any]]]] = [
        ("unit.payload.add", [(1,), (2, 3), [4]]),
        ("unit.payload.ctx", [(7,), (8,)]),
        ("unit.payload.tokens", [(5,), (0,), (2,)]),  # no estimate on the second
        ("unit.payload.tenant", [("a", 1), ("b", 2), ("a", 3)]),
    ]
    for name, calls in cases:
        many = build_insert_many(_defn(name), calls, options, now=now)

        assert list(many) == [build_insert(_defn(name), c, {}, options, now=now) for c in calls]
    keys = [p.meta["limit_key"] for p in many]
    assert keys == ["a", "b", "a"]


@pytest.mark.unit
def test_build_insert_many_checks_every_calls_shape_before_building_any() -> None:
    with pytest.raises(InvalidArgumentsError, match="positional arguments"):
        build_insert_many(_defn("unit.payload.add"), [(1,), 2], JobOptions())  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentsError, match=r"unit\.payload\.add"):
        build_insert_many(_defn("unit.payload.add"), [(1,), (1, 2, 3)], JobOptions())
    assert list(build_insert_many(_defn("unit.payload.add"), [], JobOptions())) == []


@pytest.mark.unit
def test_build_insert_many_refuses_a_bad_payload_when_its_row_is_read() -> None:
    """Rows after the first are built as the store reads them (so a COPY overlaps the
    building): an oversize or non-JSON argument raises then, never yielding a row."""
    calls: list[Sequence[Any]] = [(1,), (2,), ("x" * 200,), (4,)]
    rows = build_insert_many(_defn("unit.payload.add"), calls, JobOptions(), max_payload_bytes=100)
    assert len(rows) == 4
    assert rows[1].args == [2]
    with pytest.raises(PayloadTooLargeError):
        rows[2:4]
    with pytest.raises(PayloadTooLargeError):
        list(rows)
    rows = build_insert_many(_defn("unit.payload.add"), [(1,), ({1, 2},)], JobOptions())
    with pytest.raises(InvalidArgumentsError, match="not JSON-serialisable"):
        rows[-1]


@pytest.mark.unit
def test_bulk_rows_index_and_slice_like_a_list() -> None:
    calls: list[Sequence[Any]] = [(i,) for i in range(10)]
    expected = list(range(10))

    def args(rows: Sequence[Any]) -> list[int]:
        return [r.args[0] for r in rows]

    for cut in (slice(-5, -2), slice(None, -1), slice(-3, None, -1), slice(2, 9, 3), slice(7, 2)):
        rows = build_insert_many(_defn("unit.payload.add"), calls, JobOptions())
        assert args(rows[cut]) == expected[cut], cut
    rows = build_insert_many(_defn("unit.payload.add"), calls, JobOptions())
    assert (rows[-1].args, rows[3].args) == ([9], [3])
    with pytest.raises(IndexError):
        rows[10]
    with pytest.raises(IndexError):
        build_insert_many(_defn("unit.payload.add"), [], JobOptions())[0]


@pytest.mark.unit
@pytest.mark.parametrize(
    "value",
    [
        [1, 'a"b\\c\n', None, True, 2.5, {"k": [1, {"z": "ü"}]}],
        (1, (2, 3)),
        {"nested": {"deep": [[], {}]}},
        "just text",
        -7,
    ],
)
def test_encode_json_matches_compact_json_dumps(value: Any) -> None:
    assert encode_json(value, "arguments") == json.dumps(
        value, separators=(",", ":"), allow_nan=False, ensure_ascii=False
    )


@pytest.mark.unit
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object(), {1, 2}, {(1, 2): 3}])
def test_encode_json_names_what_is_not_json(bad: Any) -> None:
    with pytest.raises(InvalidArgumentsError, match=r"^arguments of job 'x' are not JSON"):
        encode_json([1, bad], "arguments of job 'x'")


@pytest.mark.unit
def test_encode_json_refuses_a_value_that_contains_itself() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(InvalidArgumentsError, match="contain themselves"):
        encode_json(loop, "arguments")
    assert encode_json([1, 2], "arguments") == "[1,2]"  # the encoder is still usable
