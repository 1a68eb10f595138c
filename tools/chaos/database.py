"""The chaos run's own database access: create the database, watch job states, terminate
worker backends, and read back jobs and history for the checks (plain SQL, independent of
the engine's code paths)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from medley.infrastructure.services.connect import open_store
from tools.chaos.processes import APP_PREFIX

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/medley_chaos"
MONITOR_APP = "chaos-monitor"

Conn = psycopg.AsyncConnection[dict[str, Any]]


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def connect(url: str) -> Conn:
    conn: Conn = await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row, application_name=MONITOR_APP
    )
    return conn


async def recreate_database(url: str) -> None:
    """DROP (disconnecting everyone) and CREATE the database of `url`, then migrate it."""
    name = database_name(url)
    async with await connect(with_database(url, "postgres")) as admin:
        ident = sql.Identifier(name)
        await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    await migrate(url)


async def drop_database(url: str) -> None:
    async with await connect(with_database(url, "postgres")) as admin:
        ident = sql.Identifier(database_name(url))
        await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


async def migrate(url: str) -> None:
    store = await open_store(url, auto_migrate=True)
    await store.close()


async def job_total(conn: Conn) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM medley_job")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def state_counts(conn: Conn, queue: str) -> dict[str, int]:
    cur = await conn.execute(
        "SELECT state, count(*) AS n FROM medley_job WHERE queue = %s GROUP BY state", (queue,)
    )
    return {r["state"]: int(r["n"]) for r in await cur.fetchall()}


async def terminate_backends(conn: Conn, rng: random.Random, share: float = 0.4) -> int:
    """Terminate a random share (at least one) of the workers' backends on this database.
    Returns how many were terminated."""
    cur = await conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND application_name LIKE %s",
        (APP_PREFIX + "%",),
    )
    pids = [r["pid"] for r in await cur.fetchall()]
    if not pids:
        return 0
    chosen = rng.sample(pids, max(1, round(len(pids) * share)))
    cur = await conn.execute(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(p)) AS n FROM unnest(%s::int[]) p",
        (chosen,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    state: str
    attempt: int
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    job_id: int
    at: float
    to_state: str
    reason: str
    attempt: int
    worker: str | None

    @property
    def worker_pid(self) -> int | None:
        """The pid inside a worker id `host:pid:suffix`."""
        if not self.worker:
            return None
        parts = self.worker.rsplit(":", 2)
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


async def load_jobs(conn: Conn, queue: str) -> list[JobRecord]:
    cur = await conn.execute(
        "SELECT id, state, attempt, result FROM medley_job WHERE queue = %s ORDER BY id", (queue,)
    )
    return [JobRecord(r["id"], r["state"], r["attempt"], r["result"]) for r in await cur.fetchall()]


async def load_history(conn: Conn, queue: str) -> list[HistoryRecord]:
    cur = await conn.execute(
        "SELECT h.job_id, extract(epoch FROM h.at)::float8 AS at, h.to_state, h.reason, "
        "h.attempt, h.worker FROM medley_job_history h JOIN medley_job j ON j.id = h.job_id "
        "WHERE j.queue = %s ORDER BY h.id",
        (queue,),
    )
    return [
        HistoryRecord(r["job_id"], r["at"], r["to_state"], r["reason"], r["attempt"], r["worker"])
        for r in await cur.fetchall()
    ]


async def owners(conn: Conn, queue: str) -> dict[int, str | None]:
    """Job id -> lease owner of the jobs in `queue` that are processing."""
    cur = await conn.execute(
        "SELECT id, lease_owner FROM medley_job WHERE queue = %s AND state = 'processing'",
        (queue,),
    )
    return {r["id"]: r["lease_owner"] for r in await cur.fetchall()}
