"""`medley serve`, `medley users ...`, `medley tokens ...`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from medley.application.errors import (
    ConfigError,
)
from medley.cli._common import (
    DbUrl,
    Imports,
    _run,
    _settings,
    _with_store,
    app,
    console,
)
from medley.infrastructure.jobs.runtime.main import import_job_modules
from medley.infrastructure.logs import configure_logging

users_app = typer.Typer(no_args_is_help=True, help="Dashboard users (login form).")
tokens_app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
RoleOption = Annotated[str, typer.Option("--role", help="viewer (read) or admin (act)")]


@app.command()
def serve(
    database_url: DbUrl = None,
    imports: Imports = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [MEDLEY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [MEDLEY_PORT]")] = None,
    with_worker: Annotated[
        bool | None,
        typer.Option(
            "--with-worker/--no-worker",
            help="Run a worker in this process [default: on for SQLite] [MEDLEY_WITH_WORKER]",
        ),
    ] = None,
) -> None:
    """Serve the REST API, the event stream and the dashboard (/hangfire) with uvicorn."""
    import uvicorn

    from medley.web.app import create_app

    settings = _settings(
        database_url=database_url,
        host=host,
        port=port,
        with_worker=with_worker,
        imports=",".join(imports) if imports else None,
    )
    configure_logging(settings.log_format, settings.log_level)
    import_job_modules(settings.import_list())
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    console.print(f"serving on http://{settings.host}:{settings.port} (dashboard: /hangfire)")
    server.run()
    if not server.started:  # uvicorn has logged why (e.g. the port is taken)
        raise typer.Exit(1)


def _role(value: str) -> Any:
    from medley.web.auth.principal import Role

    try:
        return Role(value)
    except ValueError:
        raise ConfigError(f"invalid role {value!r}: expected viewer or admin") from None


@users_app.command("add")
def users_add(
    name: str,
    role: RoleOption = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Add a dashboard user, or set an existing user's password and role."""
    from medley.web.auth.users import UserDirectory

    settings = _settings(database_url=database_url)
    chosen = _role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = _run(
        lambda: _with_store(settings, lambda st: UserDirectory(st).add(name, password, chosen))
    )
    console.print(f"user {escape(name)} {'added' if created else 'updated'} ({chosen.value})")


@users_app.command("remove")
def users_remove(name: str, database_url: DbUrl = None) -> None:
    """Remove a dashboard user (their open sessions end when they next expire)."""
    settings = _settings(database_url=database_url)
    removed = _run(lambda: _with_store(settings, lambda st: st.user_delete(name)))
    if not removed:
        raise ConfigError(f"no user named {name!r}")
    console.print(f"user {escape(name)} removed")


@tokens_app.command("create")
def tokens_create(
    role: RoleOption = "viewer",
    name: Annotated[str, typer.Option(help="What the token is for")] = "",
    database_url: DbUrl = None,
) -> None:
    """Create an API token. It is printed once, alone on the last line; only its hash is kept."""
    from medley.web.auth.tokens import TokenAuthority

    settings = _settings(database_url=database_url)
    chosen = _role(role)
    token_id, token = _run(
        lambda: _with_store(settings, lambda st: TokenAuthority(st).create(chosen, name))
    )
    console.print(f"token {token_id} ({chosen.value}) created; it is shown only this once:")
    print(token, flush=True)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int, database_url: DbUrl = None) -> None:
    """Revoke an API token by id: requests with it fail from now on."""
    settings = _settings(database_url=database_url)
    revoked = _run(lambda: _with_store(settings, lambda st: st.token_revoke(token_id)))
    if not revoked:
        raise ConfigError(f"no active token with id {token_id}")
    console.print(f"token {token_id} revoked")


@tokens_app.command("list")
def tokens_list(database_url: DbUrl = None) -> None:
    """List API tokens (ids, names, roles; never the secrets)."""
    settings = _settings(database_url=database_url)
    rows = _run(lambda: _with_store(settings, lambda st: st.token_list()))
    table = Table("id", "name", "role", "created", "revoked")
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            row.role,
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.revoked_at.strftime("%Y-%m-%d %H:%M") if row.revoked_at else "",
        )
    console.print(table)


# --- observability ----------------------------------------------------------------------
