"""`medley limits ...`: named limits (concurrency caps, start rates, token budgets)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from medley.application.errors import ConfigError
from medley.application.models.limits import LimitInfo
from medley.cli._common import (
    DbUrl,
    _run,
    _settings,
    _with_service,
    app,
    console,
)
from medley.infrastructure.jobs.limit_spec import limit_spec

limits_app = typer.Typer(no_args_is_help=True, help="Named limits: concurrency, rates, tokens.")
app.add_typer(limits_app, name="limits")


def _per(count: int | None, used: float, period: float) -> str:
    return "-" if count is None else f"{used:.0f}/{count} per {period:g}s"


@limits_app.command("list")
def limits_list(database_url: DbUrl = None) -> None:
    """List limits with what is in use now: slots, starts and tokens of the period."""
    settings = _settings(database_url=database_url)
    items = _run(lambda: _with_service(settings, lambda s: s.limit_list()))
    table = Table(
        "name", "max running", "running", "busy keys", "starts", "tokens", "blocked until", "set by"
    )
    for r in items:
        table.add_row(
            r.name,
            "-" if r.max_running is None else str(r.max_running),
            str(r.running),
            str(r.busy_keys),
            _per(r.rate, r.starts_used, r.period_seconds),
            _per(r.tokens, r.tokens_used, r.period_seconds),
            r.blocked_until.strftime("%H:%M:%S") if r.blocked_until else "-",
            r.source,
        )
    console.print(table)
    if not items:
        console.print("no limit defined")


@limits_app.command("set")
def limits_set(
    name: str,
    max_running_arg: Annotated[
        int | None, typer.Argument(metavar="[MAX_RUNNING]", help="Same as --max-running.")
    ] = None,
    max_running: Annotated[
        int | None, typer.Option("--max-running", help="Jobs running at once (per key).")
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="Starts per period (per key), e.g. 60/min, 20/1s.")
    ] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Token budget per period (per key), e.g. 40000/min.")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Define or change a limit for every worker (kept over the value declared in code).
    The options given replace the whole definition."""
    if max_running_arg is not None and max_running is not None:
        raise ConfigError("give max running once: as an argument or --max-running")
    spec = limit_spec(max_running if max_running is not None else max_running_arg, rate, tokens)
    settings = _settings(database_url=database_url)
    info = _run(
        lambda: _with_service(
            settings,
            lambda s: s.limit_set(
                name,
                spec.max_running,
                rate=spec.rate,
                tokens=spec.tokens,
                period=spec.period_seconds,
            ),
        )
    )
    console.print(_summary(info))


def _summary(info: LimitInfo) -> str:
    parts = [] if info.max_running is None else [f"max {info.max_running} running"]
    if info.rate is not None:
        parts.append(f"{info.rate} starts")
    if info.tokens is not None:
        parts.append(f"{info.tokens} tokens")
    period = f" per {info.period_seconds:g}s" if info.rate or info.tokens else ""
    return f"{info.name}: {', '.join(parts) or 'unbounded'}{period} ({info.running} running now)"


@limits_app.command("remove")
def limits_remove(name: str, database_url: DbUrl = None) -> None:
    """Forget a limit: its jobs run unlimited until it is defined again."""
    settings = _settings(database_url=database_url)
    if not _run(lambda: _with_service(settings, lambda s: s.limit_remove(name))):
        raise ConfigError(f"no limit named {name!r}")
    console.print(f"{name}: removed")
