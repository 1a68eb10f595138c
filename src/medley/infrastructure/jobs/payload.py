"""Turning enqueue calls into storable rows: JSON encoding, size limit, argument check.

Arguments are checked against the function's signature at enqueue time, so a typo in a
keyword fails in the caller's request, not hours later in a worker.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from medley.application.errors import InvalidArgumentsError, PayloadTooLargeError
from medley.application.models.jobs import JobOptions, JobState
from medley.infrastructure.jobs.registry import JobDefinition
from medley.infrastructure.jobs.storage.port import JobInsertParams

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


def encode_json(value: Any, what: str) -> str:
    """Compact JSON, refusing NaN and non-JSON types with an error naming `what`."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentsError(f"{what} are not JSON-serialisable: {exc}") from exc


@functools.lru_cache(maxsize=1024)
def _call_signature(func: Callable[..., Any], skip_context: bool) -> inspect.Signature | None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: accept anything
        return None
    params = list(signature.parameters.values())
    return signature.replace(parameters=params[1:] if skip_context else params)


def check_signature(
    definition: JobDefinition[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> None:
    signature = _call_signature(definition.func, definition.takes_context)
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgumentsError(f"bad arguments for job {definition.name!r}: {exc}") from exc


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
    )
