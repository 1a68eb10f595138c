"""`medley recurring ...`: cron jobs."""

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
    JobOptions,
)
from medley.application.models.workflows import Misfire, RecurringJob
from medley.cli._common import (
    DbUrl,
    Imports,
    _run,
    _settings,
    _with_service,
    app,
    console,
)

recurring_app = typer.Typer(no_args_is_help=True, help="Recurring (cron) jobs.")
app.add_typer(recurring_app, name="recurring")


@recurring_app.command("list")
def recurring_list(database_url: DbUrl = None) -> None:
    """List recurring jobs with their schedule, next run and last run."""
    settings = _settings(database_url=database_url)
    items = _run(lambda: _with_service(settings, lambda s: s.recurring_list()))
    table = Table("name", "job", "cron", "timezone", "next run (UTC)", "last run", "last state")
    for r in items:
        table.add_row(
            r.name + (" (paused)" if r.paused else ""),
            r.job,
            r.cron,
            r.timezone,
            r.next_run_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.last_run_at.strftime("%Y-%m-%d %H:%M:%S") if r.last_run_at else "-",
            r.last_state.value if r.last_state else "-",
        )
    console.print(table)


@recurring_app.command("add")
def recurring_add(
    name: str,
    job: str,
    cron: Annotated[str, typer.Option(help="5 or 6 fields, or @hourly, @daily, ...")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the cron")] = "UTC",
    database_url: DbUrl = None,
    imports: Imports = None,
    args: Annotated[str, typer.Option(help="JSON array of positional arguments")] = "[]",
    kwargs: Annotated[str, typer.Option(help="JSON object of keyword arguments")] = "{}",
    queue: Annotated[str | None, typer.Option()] = None,
    misfire: Annotated[Misfire, typer.Option(help="After downtime: once, all or skip")] = (
        Misfire.ONCE
    ),
) -> None:
    """Create or redefine a recurring job (by name) for a registered job."""
    settings = _settings(database_url=database_url, imports=",".join(imports) if imports else None)
    try:
        parsed_args, parsed_kwargs = json.loads(args), json.loads(kwargs)
        spec = RecurringJob(
            name=name,
            job=job,
            cron=cron,
            timezone=timezone,
            args=tuple(parsed_args),
            kwargs=parsed_kwargs,
            options=JobOptions(queue=queue),
            misfire=misfire,
        )
    except (json.JSONDecodeError, TypeError, ValidationError) as exc:
        raise ConfigError(f"invalid recurring job: {exc}") from exc
    info = _run(lambda: _with_service(settings, lambda s: s.recurring_add(spec)))
    console.print(f"{info.name}: next run {info.next_run_at:%Y-%m-%d %H:%M:%S} UTC")


@recurring_app.command("trigger")
def recurring_trigger(name: str, database_url: DbUrl = None) -> None:
    """Run a recurring job once now, without moving its next run; prints the job id."""
    settings = _settings(database_url=database_url)
    result = _run(lambda: _with_service(settings, lambda s: s.recurring_trigger(name)))
    console.print(f"{result.id} {result.state.value}")


@recurring_app.command("pause")
def recurring_pause(name: str, database_url: DbUrl = None) -> None:
    """Stop firing a recurring job until it is resumed."""
    settings = _settings(database_url=database_url)
    _run(lambda: _with_service(settings, lambda s: s.recurring_pause(name)))
    console.print(f"{name}: paused")


@recurring_app.command("resume")
def recurring_resume(name: str, database_url: DbUrl = None) -> None:
    """Fire a paused recurring job again from its next tick."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.recurring_resume(name)))
    console.print(f"{name}: next run {info.next_run_at:%Y-%m-%d %H:%M:%S} UTC")


@recurring_app.command("remove")
def recurring_remove(name: str, database_url: DbUrl = None) -> None:
    """Remove a recurring job (the jobs it already fired stay)."""
    settings = _settings(database_url=database_url)
    _run(lambda: _with_service(settings, lambda s: s.recurring_remove(name)))
    console.print(f"{name}: removed")


# --- limits -----------------------------------------------------------------------------
