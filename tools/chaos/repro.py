"""`python -m tools.chaos.repro {lost-claim,start-after-terminate}`: deterministic
reproductions of engine gaps the chaos run hits only by chance. Exit 1 = reproduced.

lost-claim: a fetch commits its claim before the rows reach the worker. If the
connection breaks in between (backend terminated, network failure), the worker gets a
StorageError and retries, but the job stays `processing` with `lease_owner` = a worker
that is alive and heartbeating, so the rescuer never gives it back. Reproduced by running
the engine's own fetch statement for a live worker and dropping the reply.

start-after-terminate: `WorkerServer.start()` registers with one heartbeat and no retry;
if the pool's idle connection was terminated (failover, pg_terminate_backend), the worker
process dies with a traceback instead of retrying."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import medley
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.postgres.store import Q
from medley.infrastructure.services.connect import open_store
from tools.chaos import database as db
from tools.chaos.jobs import JOB_NAME
from tools.chaos.processes import WorkerPool, WorkerSpec

QUEUE = "lost-claim"
REPRO_APP = "chaos-repro"


async def _live_worker_id(conn: db.Conn, pid: int) -> str:
    cur = await conn.execute("SELECT id FROM medley_server WHERE pid = %s", (pid,))
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("the worker did not register")
    return str(row["id"])


async def _enqueue_one(url: str) -> int:
    service = await medley.connect_async(url)
    try:
        options = medley.JobOptions(queue=QUEUE)
        request = medley.EnqueueRequest(job=JOB_NAME, args=(0, 0.01), options=options)
        return (await service.submit(request)).id
    finally:
        await service.close()


async def lost_claim(url: str, watch: float, log_dir: Path) -> bool:
    pool = WorkerPool(log_dir)
    worker = await asyncio.to_thread(pool.start, "w0", WorkerSpec(database_url=url))
    conn = await db.connect(url)
    try:
        await asyncio.to_thread(pool.wait_ready)
        worker_id = await _live_worker_id(conn, worker.pid)
        job_id = await _enqueue_one(url)
        params = {"queue": QUEUE, "limit": 1, "worker_id": worker_id}
        await conn.execute(Q["job_fetch_available"], params)
        print(f"job {job_id} claimed for live worker {worker_id}; the reply is dropped")
        started = time.monotonic()
        state = ""
        while time.monotonic() - started < watch:
            await asyncio.sleep(3.0)
            cur = await conn.execute(
                "SELECT j.state, now() - s.heartbeat_at AS silent FROM medley_job j "
                "LEFT JOIN medley_server s ON s.id = j.lease_owner WHERE j.id = %s",
                (job_id,),
            )
            row = await cur.fetchone()
            state = row["state"] if row else "gone"
            silent = row["silent"] if row else None
            print(f"  t={time.monotonic() - started:4.1f}s {state}; owner's last beat {silent} ago")
        stuck = state == "processing"
        verdict = "STUCK (reproduced)" if stuck else f"{state} (not reproduced)"
        print(f"job {job_id} after {watch:.0f}s with a 3s lease and 0.5s rescuer: {verdict}")
        return stuck
    finally:
        await conn.close()
        await asyncio.to_thread(pool.stop_all, 20.0)


async def start_after_terminate(url: str) -> bool:
    store = await open_store(f"{url}?application_name={REPRO_APP}")
    conn = await db.connect(url)
    try:
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n "
            "FROM pg_stat_activity WHERE application_name = %s",
            (REPRO_APP,),
        )
        row = await cur.fetchone()
        print(f"terminated {row['n'] if row else 0} idle pool connection(s) of a new store")
        server = WorkerServer(store, config=WorkerConfig(heartbeat_seconds=0.5, lease_seconds=3))
        try:
            await server.start()
        except Exception as exc:
            print(f"WorkerServer.start() raised {type(exc).__name__}: {exc} (reproduced)")
            return True
        print("WorkerServer.start() succeeded (not reproduced)")
        await server.stop()
        return False
    finally:
        await conn.close()
        await store.close()


async def main_async(which: str, url: str, watch: float, log_dir: Path) -> bool:
    await db.recreate_database(url)
    try:
        if which == "lost-claim":
            return await lost_claim(url, watch, log_dir)
        return await start_after_terminate(url)
    finally:
        await db.drop_database(url)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.chaos.repro", description=__doc__)
    p.add_argument("which", choices=["lost-claim", "start-after-terminate"])
    p.add_argument("--database-url", default=db.with_database(db.DEFAULT_URL, "medley_repro"))
    p.add_argument("--watch", type=float, default=15.0, help="lost-claim: seconds to watch")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medley-repro-") as tmp:
        reproduced = asyncio.run(main_async(args.which, args.database_url, args.watch, Path(tmp)))
    return 1 if reproduced else 0


if __name__ == "__main__":
    sys.exit(main())
