"""`python -m benchmarks.dashboard_scale`: every dashboard page (and the API's read
endpoints) with a million jobs in the table, through a real uvicorn server.

The target (issue "web layer"): each page answers in under 300 ms at the 95th percentile on
this machine. Counts come from maintained counters, lists from keyset pagination, queue
heads from a skip scan; nothing counts or offsets through the job table per request.

    .venv/bin/python -m benchmarks.dashboard_scale                    # PostgreSQL, 1,000,000 jobs
    .venv/bin/python -m benchmarks.dashboard_scale --backend sqlite
    .venv/bin/python -m benchmarks.dashboard_scale --jobs 100000 --requests 20 --json out.json

Exit status 1 if a page misses the target. The data (admin tooling, so SQL lives here):
90 % succeeded, 5 % failed (with tracebacks), 2 % cancelled, 2 % enqueued, 0.9 % scheduled,
0.1 % processing, interleaved by id; five job names, three queues, 10 % of jobs tagged
`doc-N`; one history row per job; a day of per-minute throughput; three live workers.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg import sql

from medley.config import Settings
from medley.infrastructure.services.connect import open_store
from medley.web.app import create_app

DEFAULT_URL = os.environ.get(
    "MEDLEY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DBNAME = "bench_dashboard"
TARGET_P95_MS = 300.0

PG_JOBS = """
INSERT INTO medley_job (job, queue, priority, state, args, kwargs, attempt, max_attempts,
                        tags, result, error, lease_owner, created_at, run_at, started_at,
                        finished_at)
SELECT (ARRAY['app.extract', 'app.embed', 'app.summarize', 'app.notify', 'app.index'])[1 + i %% 5],
       (ARRAY['default', 'ai', 'mail'])[1 + i %% 3],
       100, s.state,
       jsonb_build_array(i, 'document-' || i), '{"lang": "en"}'::jsonb,
       CASE WHEN s.state IN ('enqueued', 'scheduled') THEN 0 ELSE 1 END, 10,
       CASE WHEN i %% 10 = 0 THEN jsonb_build_array('doc-' || (i %% 1000)) ELSE '[]'::jsonb END,
       CASE WHEN s.state = 'succeeded' THEN jsonb_build_object('fragments', i %% 40) END,
       CASE WHEN s.state = 'failed' THEN jsonb_build_object(
           'type', 'TimeoutError', 'message', 'model call timed out after 30 s',
           'traceback', 'Traceback (most recent call last):\n  TimeoutError') END,
       CASE WHEN s.state = 'processing' THEN 'bench-worker-1' END,
       c.at,
       CASE WHEN s.state = 'scheduled' THEN now() + (i %% 3600) * interval '1 s' ELSE c.at END,
       CASE WHEN s.state IN ('enqueued', 'scheduled') THEN NULL ELSE c.at END,
       CASE WHEN s.state IN ('succeeded', 'failed', 'cancelled') THEN c.at + interval '1 s' END
FROM generate_series(1, %(jobs)s) AS i
CROSS JOIN LATERAL (SELECT CASE WHEN i %% 1000 < 900 THEN 'succeeded'
                                WHEN i %% 1000 < 950 THEN 'failed'
                                WHEN i %% 1000 < 970 THEN 'cancelled'
                                WHEN i %% 1000 < 990 THEN 'enqueued'
                                WHEN i %% 1000 < 999 THEN 'scheduled'
                                ELSE 'processing' END AS state) s
CROSS JOIN LATERAL (SELECT now() - (%(jobs)s - i) * interval '80 ms' AS at) c
"""
PG_HISTORY = """
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt)
SELECT id, created_at, NULL, state, 'enqueued', attempt FROM medley_job
"""
PG_THROUGHPUT = """
INSERT INTO medley_stat (queue, state, minute, count)
SELECT q, st, date_trunc('minute', now()) - m * interval '1 minute', 50 + (m * 7) % 40
FROM unnest(ARRAY['default', 'ai', 'mail']) q, unnest(ARRAY['succeeded', 'failed']) st,
     generate_series(0, 1439) m
ON CONFLICT DO NOTHING
"""
PG_SERVERS = """
INSERT INTO medley_server (id, hostname, pid, queues, concurrency, running, cpu_percent,
                           rss_bytes, started_at, heartbeat_at)
SELECT 'bench-worker-' || n, 'bench', 1000 + n, '["default", "ai", "mail"]', 20, n * 3,
       12.5 * n, 150000000, now() - interval '1 hour', now()
FROM generate_series(1, 3) n
"""

SQLITE_JOBS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :jobs),
s AS (SELECT i, CASE WHEN i % 1000 < 900 THEN 'succeeded' WHEN i % 1000 < 950 THEN 'failed'
                     WHEN i % 1000 < 970 THEN 'cancelled' WHEN i % 1000 < 990 THEN 'enqueued'
                     WHEN i % 1000 < 999 THEN 'scheduled' ELSE 'processing' END AS state,
             :now - (:jobs - i) * 0.08 AS at FROM n)
INSERT INTO medley_job (job, queue, priority, state, args, kwargs, attempt, max_attempts, tags,
                        result, error, lease_owner, created_at, run_at, started_at, finished_at)
SELECT CASE i % 5 WHEN 0 THEN 'app.extract' WHEN 1 THEN 'app.embed' WHEN 2 THEN 'app.summarize'
                  WHEN 3 THEN 'app.notify' ELSE 'app.index' END,
       CASE i % 3 WHEN 0 THEN 'default' WHEN 1 THEN 'ai' ELSE 'mail' END,
       100, state, json_array(i, 'document-' || i), '{"lang": "en"}',
       CASE WHEN state IN ('enqueued', 'scheduled') THEN 0 ELSE 1 END, 10,
       CASE WHEN i % 10 = 0 THEN json_array('doc-' || (i % 1000)) ELSE '[]' END,
       CASE WHEN state = 'succeeded' THEN json_object('fragments', i % 40) END,
       CASE WHEN state = 'failed' THEN json_object('type', 'TimeoutError',
            'message', 'model call timed out after 30 s', 'traceback', 'Traceback ...') END,
       CASE WHEN state = 'processing' THEN 'bench-worker-1' END,
       at, CASE WHEN state = 'scheduled' THEN :now + i % 3600 ELSE at END,
       CASE WHEN state IN ('enqueued', 'scheduled') THEN NULL ELSE at END,
       CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN at + 1 END
FROM s
"""
SQLITE_HISTORY = """
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt)
SELECT id, created_at, NULL, state, 'enqueued', attempt FROM medley_job
"""
SQLITE_THROUGHPUT = """
WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 1439)
INSERT OR IGNORE INTO medley_stat (queue, state, minute, count)
SELECT q.value, st.value, CAST(:now AS INTEGER) / 60 * 60 - i * 60, 50 + (i * 7) % 40
FROM m, json_each('["default", "ai", "mail"]') q, json_each('["succeeded", "failed"]') st
"""
SQLITE_SERVERS = """
INSERT INTO medley_server (id, hostname, pid, queues, concurrency, running, cpu_percent,
                           rss_bytes, started_at, heartbeat_at)
VALUES ('bench-worker-1', 'bench', 1001, '["default", "ai", "mail"]', 20, 3, 12.5, 150000000,
        :now - 3600, :now + 3600)
"""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _migrate(url: str) -> None:
    store = await open_store(url, auto_migrate=True)
    await store.close()


def fill_postgres(base_url: str, jobs: int) -> str:
    with psycopg.connect(base_url, autocommit=True) as admin:
        ident = sql.Identifier(DBNAME)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    url = base_url.rsplit("/", 1)[0] + f"/{DBNAME}"
    asyncio.run(_migrate(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PG_JOBS.encode(), {"jobs": jobs})
        conn.execute(PG_HISTORY.encode())
        conn.execute(PG_THROUGHPUT.encode())
        conn.execute(PG_SERVERS.encode())
        conn.execute(b"VACUUM ANALYZE")
    return url


def fill_sqlite(folder: Path, jobs: int) -> str:
    path = folder / "dashboard.db"
    url = f"sqlite:///{path}"
    asyncio.run(_migrate(url))
    conn = sqlite3.connect(path)
    try:
        now = time.time()
        with conn:
            conn.execute(SQLITE_JOBS, {"jobs": jobs, "now": now})
            conn.execute(SQLITE_HISTORY)
            conn.execute(SQLITE_THROUGHPUT, {"now": now})
            conn.execute(SQLITE_SERVERS, {"now": now})
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return url


class Server:
    """uvicorn in a thread with its own loop, on a free loopback port."""

    def __init__(self, database_url: str) -> None:
        settings = Settings(database_url=database_url, with_worker=False, secret_key="bench")
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def pages(client: httpx.Client) -> list[tuple[str, Callable[[], str]]]:
    """(label, url maker): makers vary ids, tags and cursors from request to request."""
    api = client.get("/api/jobs", params={"limit": 1}).json()
    top = api["items"][0]["id"]
    rng = random.Random(7)

    def job_url() -> str:
        return f"/hangfire/jobs/{rng.randint(1, top)}"

    def older_url() -> str:
        return f"/hangfire/jobs?state=succeeded&before={rng.randint(top // 10, top)}"

    def tag_url() -> str:
        return f"/hangfire/jobs?tag=doc-{rng.randrange(0, 1000, 10)}"

    fixed = [
        ("overview", "/hangfire/"),
        ("overview (live part)", "/hangfire/?part=live"),
        ("jobs, all", "/hangfire/jobs"),
        ("jobs, succeeded", "/hangfire/jobs?state=succeeded"),
        ("failed (dead letter)", "/hangfire/jobs?state=failed"),
        ("failed, one queue", "/hangfire/jobs?state=failed&queue=ai"),
        ("scheduled", "/hangfire/jobs?state=scheduled"),
        ("enqueued", "/hangfire/jobs?state=enqueued"),
        ("processing", "/hangfire/jobs?state=processing"),
        ("cancelled", "/hangfire/jobs?state=cancelled"),
        ("search by job name", "/hangfire/jobs?q=app.notify"),
        ("failed, by job name", "/hangfire/jobs?state=failed&job=app.embed"),
        ("queues", "/hangfire/queues"),
        ("servers", "/hangfire/servers"),
        ("recurring", "/hangfire/recurring"),
        ("limits", "/hangfire/limits"),
        ("API /api/stats", "/api/stats"),
        ("API /api/queues", "/api/queues"),
        ("API /api/jobs?state=failed", "/api/jobs?state=failed"),
    ]
    made: list[tuple[str, Callable[[], str]]] = [
        (label, functools.partial(str, url)) for label, url in fixed
    ]
    made += [
        ("job detail (random id)", job_url),
        ("older page (random cursor)", older_url),
        ("search by tag (random)", tag_url),
    ]
    return made


def measure(base: str, token: str, requests: int) -> list[dict[str, Any]]:
    rows = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for label, url in pages(client):
            for _ in range(3):  # warm the connection and the plans
                client.get(url()).raise_for_status()
            times = []
            for _ in range(requests):
                target = url()
                started = time.perf_counter()
                response = client.get(target)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{target} answered {response.status_code}")
            times.sort()
            p95 = times[max(round(0.95 * len(times)) - 1, 0)]
            rows.append(
                {
                    "page": label,
                    "p50_ms": statistics.median(times),
                    "p95_ms": p95,
                    "max_ms": times[-1],
                    "ok": p95 < TARGET_P95_MS,
                }
            )
            progress(f"  {label}: p50 {rows[-1]['p50_ms']:.1f} ms, p95 {p95:.1f} ms")
    return rows


async def _token(url: str) -> str:
    from medley.web.auth.principal import Role
    from medley.web.auth.tokens import TokenAuthority

    store = await open_store(url)
    try:
        return (await TokenAuthority(store).create(Role.VIEWER, "bench"))[1]
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="server for bench_dashboard")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        progress(f"filling {args.backend} with {args.jobs:,} jobs ...")
        if args.backend == "postgres":
            url = fill_postgres(args.database_url, args.jobs)
        else:
            url = fill_sqlite(Path(folder), args.jobs)
        progress(f"filled in {time.monotonic() - started:.0f} s; serving and measuring")
        token = asyncio.run(_token(url))
        with Server(url) as base:
            rows = measure(base, token, args.requests)

    width = max(len(r["page"]) for r in rows)
    print(f"\nDashboard at {args.jobs:,} jobs on {args.backend} ({args.requests} requests/page)")
    print(f"{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
    for r in rows:
        mark = "" if r["ok"] else "  <-- over 300 ms"
        timings = f"{r['p50_ms']:8.1f}  {r['p95_ms']:8.1f}  {r['max_ms']:8.1f}"
        print(f"{r['page']:<{width}}  {timings}{mark}")
    worst = max(rows, key=lambda r: r["p95_ms"])
    print(f"worst p95: {worst['page']} {worst['p95_ms']:.1f} ms (target < {TARGET_P95_MS:.0f} ms)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "backend": args.backend,
                    "jobs": args.jobs,
                    "requests": args.requests,
                    "pages": rows,
                },
                indent=2,
            )
        )
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
