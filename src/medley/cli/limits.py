"""`medley limits ...`: global concurrency limits."""

from __future__ import annotations

import typer
from rich.table import Table

from medley.application.errors import (
    ConfigError,
)
from medley.cli._common import (
    DbUrl,
    _run,
    _settings,
    _with_service,
    app,
    console,
)

limits_app = typer.Typer(no_args_is_help=True, help="Global concurrency limits.")
app.add_typer(limits_app, name="limits")


@limits_app.command("list")
def limits_list(database_url: DbUrl = None) -> None:
    """List concurrency limits with the slots in use now."""
    settings = _settings(database_url=database_url)
    items = _run(lambda: _with_service(settings, lambda s: s.limit_list()))
    table = Table("name", "max running", "running", "busy keys", "set by")
    for r in items:
        table.add_row(r.name, str(r.max_running), str(r.running), str(r.busy_keys), r.source)
    console.print(table)
    if not items:
        console.print("no limit defined")


@limits_app.command("set")
def limits_set(name: str, max_running: int, database_url: DbUrl = None) -> None:
    """Define or change a limit for every worker (kept over the value declared in code)."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.limit_set(name, max_running)))
    console.print(f"{info.name}: max {info.max_running} running ({info.running} now)")


@limits_app.command("remove")
def limits_remove(name: str, database_url: DbUrl = None) -> None:
    """Forget a limit: its jobs run unlimited until it is defined again."""
    settings = _settings(database_url=database_url)
    if not _run(lambda: _with_service(settings, lambda s: s.limit_remove(name))):
        raise ConfigError(f"no limit named {name!r}")
    console.print(f"{name}: removed")
