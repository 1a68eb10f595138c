"""`python -m tools.chaos.lost_claim`: evidence for an engine gap found by the chaos work.

A fetch (`job_fetch_available`) commits its claim in the database before the rows reach
the worker. If the connection breaks in between (backend terminated, network failure,
proxy restart), the worker sees a StorageError and retries, but the job stays
`processing` with `lease_owner` = that worker. The worker is alive and keeps
heartbeating, so the rescuer never gives the job back: it is stuck for good.

This script reproduces the database side exactly: it runs the engine's own fetch
statement with a live worker's id and throws the rows away (what a lost reply amounts
to), then watches the job for `--watch` seconds (several leases, fast rescuer)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import medley
from medley.infrastructure.jobs.storage.postgres.store import Q
from tools.chaos import database as db
from tools.chaos.jobs import JOB_NAME
from tools.chaos.processes import WorkerPool, WorkerSpec

QUEUE = "lost-claim"


async def main_async(url: str, watch: float, log_dir: Path) -> bool:
    await db.recreate_database(url)
    pool = WorkerPool(log_dir)
    worker = await asyncio.to_thread(pool.start, "w0", WorkerSpec(database_url=url))
    conn = await db.connect(url)
    try:
        await asyncio.to_thread(pool.wait_ready)
        cur = await conn.execute("SELECT id FROM medley_server WHERE pid = %s", (worker.pid,))
        row = await cur.fetchone()
        assert row is not None, "worker did not register"
        worker_id = str(row["id"])
        service = await medley.connect_async(url)
        try:
            request = medley.EnqueueRequest(
                job=JOB_NAME, args=(0, 0.01), options=medley.JobOptions(queue=QUEUE)
            )
            job_id = (await service.submit(request)).id
        finally:
            await service.close()
        await conn.execute(
            Q["job_fetch_available"], {"queue": QUEUE, "limit": 1, "worker_id": worker_id}
        )
        print(f"job {job_id} claimed for live worker {worker_id}; reply dropped")
        started = time.monotonic()
        state = ""
        while time.monotonic() - started < watch:
            await asyncio.sleep(1.0)
            cur = await conn.execute(
                "SELECT j.state, j.lease_owner, now() - s.heartbeat_at AS silent "
                "FROM medley_job j LEFT JOIN medley_server s ON s.id = j.lease_owner "
                "WHERE j.id = %s",
                (job_id,),
            )
            r = await cur.fetchone()
            assert r is not None
            state = r["state"]
            print(
                f"  t={time.monotonic() - started:4.1f}s state={state} "
                f"owner heartbeat {r['silent']} ago"
            )
        stuck = state == "processing"
        print(
            f"job {job_id} is still processing after {watch:.0f}s (lease 3s): STUCK"
            if stuck
            else f"job {job_id} left processing ({state}): not reproduced"
        )
        return stuck
    finally:
        await conn.close()
        await asyncio.to_thread(pool.stop_all, 20.0)
        await db.drop_database(url)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.chaos.lost_claim", description=__doc__)
    p.add_argument("--database-url", default=db.with_database(db.DEFAULT_URL, "medley_lost"))
    p.add_argument("--watch", type=float, default=15.0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medley-lost-claim-") as tmp:
        stuck = asyncio.run(main_async(args.database_url, args.watch, Path(tmp)))
    return 1 if stuck else 0


if __name__ == "__main__":
    sys.exit(main())
