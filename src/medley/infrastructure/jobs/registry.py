"""Jobs are registered functions with stable names; the name, not the function, is stored."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from medley.application.errors import ConfigError, UnknownJobError
from medley.application.models.workflows import RecurringJob
from medley.infrastructure.jobs.duration import parse_duration

if TYPE_CHECKING:
    from medley.infrastructure.jobs.limits import LimitDefinition

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
DEFAULT_PRIORITY = 100
DEFAULT_MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class JobDefinition(Generic[P, R]):
    """A registered job. Calling it calls the function directly (no queue), which keeps
    job code unit-testable; `service.enqueue(definition, ...)` runs it in the background."""

    name: str
    func: Callable[..., Any]
    queue: str = DEFAULT_QUEUE
    priority: int = DEFAULT_PRIORITY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: timedelta | None = None
    cpu_bound: bool = False
    is_async: bool = False
    takes_context: bool = False
    backoff: Callable[[int], timedelta] | None = field(default=None, compare=False)
    retry_on: tuple[type[BaseException], ...] = ()
    """When set, only these exceptions are retried; any other fails the job at once."""
    discard_on: tuple[type[BaseException], ...] = ()
    """These exceptions fail the job at once, attempts left or not."""
    limit: str | None = None
    """A named concurrency limit (`medley.limit`): its jobs run only while it has room."""
    limit_key_arg: str | None = None
    """The argument whose value keys the limit (`max_running` per value)."""
    limit_tokens: int | Callable[..., int] | None = field(default=None, compare=False)
    """Tokens a run reserves from its limit's token budget when claimed (a number, or a
    function of the job's arguments); `ctx.report_usage(tokens=...)` corrects it."""

    def should_retry(self, exc: BaseException) -> bool:
        if self.discard_on and isinstance(exc, self.discard_on):
            return False
        return not self.retry_on or isinstance(exc, self.retry_on)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self.func(*args, **kwargs)
        return result

    def with_defaults(self, **changes: Any) -> JobDefinition[P, R]:
        """A copy with other defaults (queue, priority, ...), registered under the same name."""
        return replace(self, **changes)


def _takes_context(func: Callable[..., Any]) -> bool:
    params = list(inspect.signature(func).parameters.values())
    if not params:
        return False
    first = params[0]
    return first.name in ("ctx", "context") or "JobContext" in str(first.annotation)


class JobRegistry:
    """Name -> JobDefinition. Re-registering a name with another function is refused, since
    stored jobs would silently change meaning."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobDefinition[Any, Any]] = {}
        self.recurring: dict[str, RecurringJob] = {}
        """Recurring jobs declared in code (`@medley.recurring`), upserted by workers."""
        self.limits: dict[str, LimitDefinition] = {}
        """Concurrency limits declared in code (`medley.limit`), synced by workers."""

    def register_recurring(self, spec: RecurringJob) -> None:
        """Declare a recurring job; a name declared twice keeps the last declaration."""
        self.recurring[spec.name] = spec

    def register(self, definition: JobDefinition[Any, Any]) -> None:
        existing = self._jobs.get(definition.name)
        if existing is not None and _qualname(existing.func) != _qualname(definition.func):
            raise ConfigError(f"job name {definition.name!r} is already registered")
        self._jobs[definition.name] = definition

    def get(self, name: str) -> JobDefinition[Any, Any]:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJobError(name) from None

    def find(self, name: str) -> JobDefinition[Any, Any] | None:
        return self._jobs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[JobDefinition[Any, Any]]:
        return iter(list(self._jobs.values()))

    def resolve(self, job: object) -> JobDefinition[Any, Any]:
        """A definition from a definition, its name, or a decorated function."""
        if isinstance(job, JobDefinition):
            return self._jobs.get(job.name, job)
        if isinstance(job, str):
            return self.get(job)
        raise UnknownJobError(getattr(job, "__qualname__", repr(job)))


def _qualname(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


DEFAULT_REGISTRY = JobRegistry()
"""Where `@medley.job` registers unless given another registry."""


@overload
def job(func: Callable[P, R], /) -> JobDefinition[P, R]: ...


@overload
def job(
    func: None = None,
    /,
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    priority: int = DEFAULT_PRIORITY,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: str | float | timedelta | None = None,
    cpu_bound: bool = False,
    backoff: Callable[[int], timedelta] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    discard_on: tuple[type[BaseException], ...] = (),
    limit: str | None = None,
    limit_key_arg: str | None = None,
    tokens: int | Callable[..., int] | None = None,
    registry: JobRegistry | None = None,
) -> Callable[[Callable[P, R]], JobDefinition[P, R]]: ...


def job(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    priority: int = DEFAULT_PRIORITY,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: str | float | timedelta | None = None,
    cpu_bound: bool = False,
    backoff: Callable[[int], timedelta] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    discard_on: tuple[type[BaseException], ...] = (),
    limit: str | None = None,
    limit_key_arg: str | None = None,
    tokens: int | Callable[..., int] | None = None,
    registry: JobRegistry | None = None,
) -> Any:
    """Declare a job. Usable bare (`@job`) or with options (`@job(queue="ai")`).

    The stored name defaults to `module.qualname`; give `name=` to keep it stable across
    refactors. `cpu_bound=True` runs a sync job in a worker process instead of a thread.
    `limit="llm"` runs it only while the named concurrency limit has room, cluster-wide;
    with `limit_key_arg="tenant_id"` the limit holds per value of that argument.
    `tokens=500` (or a function of the job's arguments) is what a run reserves from the
    limit's token budget until it reports its real usage (`ctx.report_usage`).
    """

    def decorate(f: Callable[P, R]) -> JobDefinition[P, R]:
        if max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        is_async = inspect.iscoroutinefunction(f)
        if cpu_bound and is_async:
            raise ConfigError("cpu_bound jobs must be plain (sync) functions")
        if limit_key_arg is not None and limit is None:
            raise ConfigError("limit_key_arg needs a limit")
        if tokens is not None and limit is None:
            raise ConfigError("tokens needs a limit")
        definition: JobDefinition[P, R] = JobDefinition(
            name=name or _qualname(f),
            func=f,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timeout=parse_duration(timeout),
            cpu_bound=cpu_bound,
            is_async=is_async,
            takes_context=_takes_context(f),
            backoff=backoff,
            retry_on=retry_on,
            discard_on=discard_on,
            limit=limit,
            limit_key_arg=limit_key_arg,
            limit_tokens=tokens,
        )
        (registry or DEFAULT_REGISTRY).register(definition)
        return definition

    if func is not None:
        return decorate(func)
    return decorate
