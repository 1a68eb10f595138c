"""`medley jobs ...`: inspect and control jobs, one or all matching a filter."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from medley.application.errors import (
    ConfigError,
)
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    JobFilter,
    JobOptions,
    JobState,
)
from medley.cli._common import (
    DbUrl,
    Imports,
    _print_json,
    _run,
    _settings,
    _with_service,
    console,
    jobs_app,
)
from medley.infrastructure.jobs.duration import parse_duration
from medley.infrastructure.services.background_job_service import JobService


@jobs_app.command("list")
def jobs_list(
    database_url: DbUrl = None,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state")] = None,
    queue: Annotated[str | None, typer.Option()] = None,
    job: Annotated[str | None, typer.Option(help="Only jobs of this name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    cursor: Annotated[str | None, typer.Option(help="Cursor printed by the previous page")] = None,
) -> None:
    """List jobs, newest first."""
    settings = _settings(database_url=database_url)
    page = _run(
        lambda: _with_service(
            settings,
            lambda s: s.list(
                JobFilter(state=state, queue=queue, job=job), limit=limit, cursor=cursor
            ),
        )
    )
    table = Table("id", "job", "queue", "state", "attempt", "progress", "created")
    table.columns[1].overflow = "fold"
    for info in page.items:
        table.add_row(
            str(info.id),
            info.job,
            info.queue,
            info.state.value,
            f"{info.attempt}/{info.max_attempts}",
            f"{info.progress.fraction:.0%}",
            info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"next page: --cursor {page.next_cursor}")


@jobs_app.command("show")
def jobs_show(job_id: int, database_url: DbUrl = None) -> None:
    """Show one job with its history, as JSON."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.get(job_id)))
    _print_json(info.model_dump(mode="json"))


@jobs_app.command("enqueue")
def jobs_enqueue(
    job: str,
    database_url: DbUrl = None,
    imports: Imports = None,
    args: Annotated[str, typer.Option(help="JSON array of positional arguments")] = "[]",
    kwargs: Annotated[str, typer.Option(help="JSON object of keyword arguments")] = "{}",
    queue: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    delay: Annotated[str | None, typer.Option(help="e.g. 30s, 10m")] = None,
    max_attempts: Annotated[int | None, typer.Option(min=1)] = None,
    unique_key: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Enqueue a registered job by name; prints its id."""
    settings = _settings(database_url=database_url, imports=",".join(imports) if imports else None)
    try:
        parsed_args, parsed_kwargs = json.loads(args), json.loads(kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--args/--kwargs must be JSON: {exc}") from exc
    if not isinstance(parsed_args, list) or not isinstance(parsed_kwargs, dict):
        raise ConfigError("--args must be a JSON array and --kwargs a JSON object")
    wait = parse_duration(delay)
    request = EnqueueRequest(
        job=job,
        args=tuple(parsed_args),
        kwargs=parsed_kwargs,
        options=JobOptions(
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            unique_key=unique_key,
            delay=wait if wait else None,
        ),
    )
    result = _run(lambda: _with_service(settings, lambda s: s.submit(request)))
    console.print(f"{result.id} {result.state.value}{' (existing)' if result.existing else ''}")


def _control(action: str, job_id: int, database_url: str | None) -> None:
    settings = _settings(database_url=database_url)

    async def go(s: JobService) -> str:
        if action == "delete":
            await s.delete(job_id)
            return "deleted"
        info = await (s.cancel(job_id) if action == "cancel" else s.retry(job_id))
        return info.state.value + (" (cancel requested)" if info.cancel_requested else "")

    console.print(f"job {job_id}: {_run(lambda: _with_service(settings, go))}")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int, database_url: DbUrl = None) -> None:
    """Cancel a job (a processing one is asked to stop)."""
    _control("cancel", job_id, database_url)


Selection = Annotated[bool, typer.Option("--all", help="Every final job matching the filters")]


def _bulk(
    action: str,
    database_url: str | None,
    state: list[JobState] | None,
    queue: str | None,
    job: str | None,
    error_type: str | None,
) -> None:
    settings = _settings(database_url=database_url)
    try:
        selection = BulkSelection(
            states=tuple(state or [JobState.FAILED]), queue=queue, job=job, error_type=error_type
        )
    except ValidationError as exc:
        raise ConfigError("--state must name final states (failed, cancelled, succeeded)") from exc

    async def go(s: JobService) -> int:
        return await (s.retry_many(selection) if action == "retry" else s.delete_many(selection))

    count = _run(lambda: _with_service(settings, go))
    console.print(f"{'retried' if action == 'retry' else 'deleted'} {count} jobs")


def _one_or_all(
    action: str,
    job_id: int | None,
    every: bool,
    database_url: str | None,
    filters: tuple[list[JobState] | None, str | None, str | None, str | None],
) -> None:
    if every == (job_id is not None):
        raise ConfigError(f"give either a job id or --all (with filters) to {action}")
    if job_id is not None:
        _control(action, job_id, database_url)
    else:
        _bulk(action, database_url, *filters)


FilterState = Annotated[
    list[JobState] | None, typer.Option("--state", help="With --all: states (default failed)")
]
FilterQueue = Annotated[str | None, typer.Option("--queue", help="With --all: only this queue")]
FilterJob = Annotated[str | None, typer.Option("--job", help="With --all: only this job name")]
FilterError = Annotated[
    str | None, typer.Option("--error-type", help="With --all: only this last error type")
]


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int | None, typer.Argument()] = None,
    every: Selection = False,
    database_url: DbUrl = None,
    state: FilterState = None,
    queue: FilterQueue = None,
    job: FilterJob = None,
    error_type: FilterError = None,
) -> None:
    """Send a failed or cancelled job back to the queue; --all for every match."""
    _one_or_all("retry", job_id, every, database_url, (state, queue, job, error_type))


@jobs_app.command("delete")
def jobs_delete(
    job_id: Annotated[int | None, typer.Argument()] = None,
    every: Selection = False,
    database_url: DbUrl = None,
    state: FilterState = None,
    queue: FilterQueue = None,
    job: FilterJob = None,
    error_type: FilterError = None,
) -> None:
    """Delete a job that is not processing; --all for every matching final job."""
    _one_or_all("delete", job_id, every, database_url, (state, queue, job, error_type))


# --- web: serve, users, tokens ---------------------------------------------------------
