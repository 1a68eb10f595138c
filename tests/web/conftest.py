"""Fixtures of the web tests: a real server per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medley.config import Settings
from medley.web.app import create_app
from medley.web.auth.principal import Role
from tests.web import jobs as web_jobs
from tests.web.served import Served, ServerThread

assert web_jobs  # registers the web.* jobs in the default registry


def web_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "auto_migrate": True,
        "with_worker": True,
        "poll_seconds": 0.05,
        "heartbeat_seconds": 1.0,
        "lease_seconds": 10.0,
        "shutdown_grace_seconds": 1.0,
        "concurrency": 4,
        "cpu_processes": 0,
        "secret_key": "test-secret",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]  # validated by pydantic


@pytest.fixture
def database_url(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'web.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    """The whole app (API, events, dashboard, in-process worker) on a free port, with an
    admin and a viewer token."""
    app = create_app(web_settings(database_url))
    thread = ServerThread(app)
    url = thread.start()
    served = Served(url=url, database_url=database_url, app=app)
    try:
        for role in (Role.ADMIN, Role.VIEWER):
            served.tokens[role] = served.create_token(role)[1]
        yield served
    finally:
        thread.stop()
