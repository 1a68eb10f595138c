"""A real uvicorn server in a thread of the test process, on a free loopback port.

The thread has its own event loop (the app's pool lives there); the tests talk to it
over HTTP only, sync or async, and reach the database through stores of their own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.services.connect import open_store
from medley.web.auth.principal import Role
from medley.web.auth.tokens import TokenAuthority
from medley.web.auth.users import UserDirectory

T = TypeVar("T")
START_TIMEOUT = 20.0


class ServerThread:
    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="medley-test-server")

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:  # a condition polled with a deadline, not a pause
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.thread.is_alive():
            raise RuntimeError("the test server did not stop")


@dataclass
class Served:
    """A running app: its URL, database URL, and ready-made tokens."""

    url: str
    database_url: str
    app: FastAPI
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def run(self, action: Callable[[JobStore], Awaitable[T]]) -> T:
        """Run `action` on a store of the test's own (its own loop, its own connection)."""

        async def go() -> T:
            store = await open_store(self.database_url)
            try:
                return await action(store)
            finally:
                await store.close()

        return _in_fresh_loop(go)

    def add_user(self, name: str, password: str, role: Role) -> None:
        self.run(lambda store: UserDirectory(store).add(name, password, role))

    def create_token(self, role: Role) -> tuple[int, str]:
        return self.run(lambda store: TokenAuthority(store).create(role, f"test-{role.value}"))


def _in_fresh_loop(go: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion whether or not the caller is inside an event loop
    (async tests are): a private loop in a helper thread."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(go()))  # type: ignore[arg-type]  # a coroutine
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    value: T = result[0]
    return value
