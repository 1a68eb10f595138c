"""Turning enqueue calls into storable rows: JSON encoding, size limit, argument check.

Arguments are checked against the function's signature at enqueue time, so a typo in a
keyword fails in the caller's request, not hours later in a worker.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, overload

from medley.application.errors import InvalidArgumentsError, PayloadTooLargeError
from medley.application.models.jobs import JobOptions, JobState
from medley.infrastructure.jobs.limits import limit_meta
from medley.infrastructure.jobs.registry import JobDefinition
from medley.infrastructure.jobs.storage.port import JobInsertParams, UniformInserts
from medley.infrastructure.observability.context import enqueue_meta

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


def _compact_encoder() -> Callable[[Any], str]:
    """Compact JSON without NaN, as `json.dumps(separators=(",", ":"), allow_nan=False,
    ensure_ascii=False)`, from one C encoder made once: `JSONEncoder.encode` makes a new
    one per call, which cost a bulk enqueue 0.6 of its ~0.85 us per job for the JSON.

    That encoder has no circular check, whose markers cannot be shared between threads: a
    value that holds itself ends in RecursionError instead, as one nested too deeply does."""
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return encoder.encode
    make = c_make_encoder(
        None, encoder.default, encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(make(value, 0))

    return encode


_encode = _compact_encoder()


def encode_json(value: Any, what: str) -> str:
    """Compact JSON, refusing NaN and non-JSON types with an error naming `what`."""
    try:
        return _encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentsError(f"{what} are not JSON-serialisable: {exc}") from exc
    except RecursionError:
        raise InvalidArgumentsError(
            f"{what} are not JSON-serialisable: they contain themselves, or nest too deeply"
        ) from None


@dataclass(frozen=True, slots=True)
class _ArgSpec:
    """What a job function accepts, precomputed once: binding with `inspect` on every
    enqueue costs more than the insert itself in bulk."""

    positional: tuple[str, ...]
    required: frozenset[str]
    keywords: frozenset[str]
    var_positional: bool
    var_keyword: bool

    def check(self, args: Sequence[Any], kwargs: dict[str, Any]) -> str | None:
        if len(args) > len(self.positional) and not self.var_positional:
            return f"takes {len(self.positional)} positional arguments but {len(args)} were given"
        filled = set(self.positional[: len(args)])
        for name in kwargs:
            if name in filled:
                return f"got multiple values for argument {name!r}"
            if name not in self.keywords and not self.var_keyword:
                return f"got an unexpected keyword argument {name!r}"
        missing = self.required - filled - kwargs.keys()
        if missing:
            return f"missing required arguments: {', '.join(sorted(missing))}"
        return None


@functools.lru_cache(maxsize=1024)
def _arg_spec(func: Callable[..., Any], skip_context: bool) -> _ArgSpec | None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: accept anything
        return None
    params = list(signature.parameters.values())[1 if skip_context else 0 :]
    kinds = inspect.Parameter
    positional = tuple(
        p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    )
    keywords = frozenset(
        p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
    )
    required = frozenset(
        p.name
        for p in params
        if p.default is kinds.empty and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
    )
    return _ArgSpec(
        positional=positional,
        required=required,
        keywords=keywords,
        var_positional=any(p.kind is kinds.VAR_POSITIONAL for p in params),
        var_keyword=any(p.kind is kinds.VAR_KEYWORD for p in params),
    )


def check_signature(
    definition: JobDefinition[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> None:
    """Raise `InvalidArgumentsError` unless the call would bind to the job's function."""
    spec = _arg_spec(definition.func, definition.takes_context)
    problem = spec.check(args, kwargs) if spec is not None else None
    if problem is not None:
        raise InvalidArgumentsError(f"bad arguments for job {definition.name!r}: {problem}")


def build_insert(
    definition: JobDefinition[Any, Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    options: JobOptions,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    now: datetime | None = None,
) -> JobInsertParams:
    """Validate one enqueue and build its row. Raises before anything is written."""
    check_signature(definition, args, kwargs)
    args_json = encode_json(list(args), f"arguments of job {definition.name!r}")
    kwargs_json = encode_json(kwargs, f"arguments of job {definition.name!r}")
    size = len(args_json.encode()) + len(kwargs_json.encode())
    if size > max_payload_bytes:
        raise PayloadTooLargeError(size, max_payload_bytes)
    now = now or datetime.now(UTC)
    run_at = options.run_at
    if options.delay is not None:
        run_at = now + options.delay
    state = JobState.SCHEDULED if run_at is not None and run_at > now else JobState.ENQUEUED
    if options.depends_on:  # a continuation: it runs when its parents are done
        if run_at is not None:
            raise InvalidArgumentsError("depends_on cannot be combined with run_at or delay")
        state = JobState.AWAITING
    timeout = options.timeout or definition.timeout
    return JobInsertParams(
        job=definition.name,
        queue=options.queue or definition.queue,
        priority=definition.priority if options.priority is None else options.priority,
        state=state,
        args=list(args),
        kwargs=kwargs,
        payload_json=(args_json, kwargs_json),
        run_at=run_at if state is JobState.SCHEDULED else None,
        max_attempts=options.max_attempts or definition.max_attempts,
        timeout_seconds=timeout.total_seconds() if timeout else None,
        unique_key=options.unique_key,
        tags=options.tags,
        meta={**enqueue_meta(), **limit_meta(definition, args, kwargs, options.limit_tokens)},
        depends_on=tuple(dict.fromkeys(options.depends_on)),
        continue_on=options.continue_on,
    )


def build_insert_many(
    definition: JobDefinition[Any, Any],
    arg_lists: Sequence[Sequence[Any]],
    options: JobOptions,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    now: datetime | None = None,
) -> UniformInserts:
    """`build_insert` for many calls of one job with the same options, positional
    arguments only. Everything that depends on the definition and the options (state,
    queue, timeout, the caller's context, the limit) is worked out once by the first
    job's `build_insert`; the others pay only for the JSON encoding and the size check:
    bulk enqueue spent more time validating than inserting.

    Raises now for what is cheap to check of every call (the first job in full, each
    call's shape and argument count); an argument that is not JSON or too large raises
    when its row is read (see `UniformInserts`), before anything is committed."""
    for args in arg_lists:
        if not isinstance(args, tuple | list):
            raise InvalidArgumentsError(
                f"each item of a bulk enqueue of job {definition.name!r} is a tuple of its "
                f"positional arguments, not {type(args).__name__}"
            )
    return _BulkRows(definition, arg_lists, options, max_payload_bytes, now)


class _BulkRows(UniformInserts):
    """The rows of `build_insert_many`, checked and encoded on demand in input order. A
    COPY reads only what differs per row (`varying`); a row as `JobInsertParams` is made
    when asked for."""

    def __init__(
        self,
        definition: JobDefinition[Any, Any],
        arg_lists: Sequence[Sequence[Any]],
        options: JobOptions,
        max_payload_bytes: int,
        now: datetime | None,
    ) -> None:
        self._arg_lists = arg_lists
        self._definition = definition
        self._options = options
        self._max_payload_bytes = max_payload_bytes
        self._args_json: list[str] = []
        self._metas: list[dict[str, Any]] | None = None
        self._rows: dict[int, JobInsertParams] = {}
        if not arg_lists:
            return
        self.first = build_insert(
            definition, arg_lists[0], {}, options, max_payload_bytes=max_payload_bytes, now=now
        )
        self._rows[0] = self.first
        self._args_json.append(self.first.payload_json[0])
        spec = _arg_spec(definition.func, definition.takes_context)
        if spec is not None:
            # Without keywords, whether positional arguments bind depends on their count.
            for count in {len(args) for args in arg_lists}:
                problem = spec.check([None] * count, {})
                if problem is not None:
                    raise InvalidArgumentsError(
                        f"bad arguments for job {definition.name!r}: {problem}"
                    )
        self.meta_varies = definition.limit is not None and (
            definition.limit_key_arg is not None or callable(definition.limit_tokens)
        )
        if self.meta_varies:
            self._metas = [self.first.meta]
        self._caller_meta = enqueue_meta()
        kwargs_json = self.first.payload_json[1]
        # A str's UTF-8 form is at most 4 bytes per character: most payloads are far
        # enough below the limit to skip encoding them just to count.
        self._cheap_below = (max_payload_bytes - len(kwargs_json)) // 4

    def __len__(self) -> int:
        return len(self._arg_lists)

    @overload
    def __getitem__(self, index: int) -> JobInsertParams: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[JobInsertParams]: ...
    def __getitem__(self, index: int | slice) -> JobInsertParams | Sequence[JobInsertParams]:
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            if positions:
                self._encode_to(max(positions[0], positions[-1]) + 1)
            return [self._row(i) for i in positions]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("bulk enqueue row index out of range")
        self._encode_to(position + 1)
        return self._row(position)

    def __iter__(self) -> Iterator[JobInsertParams]:
        self._encode_to(len(self))
        return (self._row(i) for i in range(len(self)))

    def varying(
        self, start: int, stop: int
    ) -> tuple[Sequence[str], Sequence[dict[str, Any]] | None]:
        self._encode_to(stop)
        metas = None if self._metas is None else self._metas[start:stop]
        return self._args_json[start:stop], metas

    def _row(self, position: int) -> JobInsertParams:
        """Row `position` (encoded already), made once."""
        row = self._rows.get(position)
        if row is None:
            first = self.first
            row = self._rows[position] = JobInsertParams(
                job=first.job,
                queue=first.queue,
                priority=first.priority,
                state=first.state,
                args=list(self._arg_lists[position]),
                kwargs={},
                payload_json=(self._args_json[position], first.payload_json[1]),
                run_at=first.run_at,
                max_attempts=first.max_attempts,
                timeout_seconds=first.timeout_seconds,
                unique_key=first.unique_key,
                tags=first.tags,
                meta=first.meta if self._metas is None else self._metas[position],
                depends_on=first.depends_on,
                continue_on=first.continue_on,
            )
        return row

    def _encode_to(self, stop: int) -> None:
        """Check and encode rows up to (not including) `stop`: their arguments' JSON, and
        a keyed limit's meta."""
        encoded = self._args_json
        if stop <= len(encoded):
            return
        what = f"arguments of job {self._definition.name!r}"
        kwargs_bytes = len(self.first.payload_json[1].encode())
        max_bytes, cheap_below = self._max_payload_bytes, self._cheap_below
        metas, caller_meta, tokens = self._metas, self._caller_meta, self._options.limit_tokens
        no_kwargs: dict[str, Any] = {}
        append = encoded.append
        for args in self._arg_lists[len(encoded) : stop]:
            args_json = encode_json(args, what)  # a tuple encodes as a list
            if len(args_json) > cheap_below:
                size = len(args_json.encode()) + kwargs_bytes
                if size > max_bytes:
                    raise PayloadTooLargeError(size, max_bytes)
            if metas is not None:
                # Built afresh, not over the first job's: a key it lacks (no token
                # estimate) must not be inherited.
                metas.append(
                    {**caller_meta, **limit_meta(self._definition, args, no_kwargs, tokens)}
                )
            append(args_json)
