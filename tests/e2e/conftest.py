"""The `medley` command in subprocesses, on a temp SQLite file and on PostgreSQL.

`cli.run(...)` runs one command to completion; `cli.start(...)` runs one in the
background (its own session, output in a log file) and is killed at teardown if a test
left it running. `service` is the Python API on the same database, used to follow jobs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import medley
from tests.e2e import jobs as e2e_jobs
from tests.support import postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 60.0

assert e2e_jobs  # registered here too, so that `service.enqueue` knows the e2e jobs


@dataclass(frozen=True, slots=True)
class Result:
    """A finished command."""

    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Background:
    """A command running in its own session; `stop()` signals and waits for its exit."""

    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"still running after {timeout:g} s:\n{self.log()}") from None

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        self.process.send_signal(signum)
        return await self.wait(timeout)

    async def kill_group(self) -> None:
        """Teardown: the command and every child of its session, at once."""
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


@dataclass
class MedleyCli:
    """Runs `python -m medley ...` with MEDLEY_DATABASE_URL set to `url`."""

    url: str
    logs: Path
    started: list[Background] = field(default_factory=list)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEY_")}
        path = [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        env.update(
            PYTHONPATH=os.pathsep.join(path),
            MEDLEY_DATABASE_URL=self.url,
            COLUMNS="200",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra or {})
        return env

    async def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> Result:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "medley",
            *args,
            env=self.env(env),
            cwd=self.logs,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"medley {' '.join(args)} ran over {timeout:g} s") from None
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def start(self, *args: str, env: Mapping[str, str] | None = None) -> Background:
        log_path = self.logs / f"background-{len(self.started)}.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "medley",
                *args,
                env=self.env(env),
                cwd=self.logs,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        background = Background(process, log_path)
        self.started.append(background)
        return background


@pytest.fixture
def db_url(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database per backend: a new SQLite file, or a migrated PostgreSQL copy."""
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'e2e.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def empty_db_url(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A database with no schema at all, per backend."""
    if backend_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_server")
    name = postgres.unique_database_name("medley_e2e")
    url = postgres.create_database(name)
    try:
        yield url
    finally:
        postgres.drop_database(name)


@pytest.fixture
async def cli(db_url: str, tmp_path: Path) -> AsyncIterator[MedleyCli]:
    runner = MedleyCli(db_url, tmp_path)
    try:
        yield runner
    finally:
        for background in runner.started:
            await background.kill_group()


@pytest.fixture
async def service(db_url: str) -> AsyncIterator[medley.JobService]:
    """The Python API on the test's database (migrated on SQLite, as the CLI would)."""
    svc = await medley.connect_async(db_url, auto_migrate=True)
    try:
        yield svc
    finally:
        await svc.close()
