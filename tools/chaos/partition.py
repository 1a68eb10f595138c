"""The network part (`--netns`): a worker on another "machine" (a network namespace) loses
its link mid-job. The other workers must rescue its jobs once its lease runs out; when the
link comes back, the partitioned worker's late outcomes must be fenced off: the stored
result stays the rescuer-run one, and its log says its outcome was rejected."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import medley
from tools.chaos import database as db
from tools.chaos import execlog
from tools.chaos.jobs import JOB_NAME
from tools.chaos.netns import HOST_IP, Namespace, unavailable
from tools.chaos.processes import Kill, WorkerPool, WorkerSpec
from tools.chaos.relay import TcpRelay
from tools.chaos.report import print_checks
from tools.chaos.verify import analyse

QUEUE = "chaos-net"
JOBS = 3
JOB_SECONDS = 8.0
TCP_OPTIONS = "connect_timeout=3"
"""Only a connect timeout (libpq has none by default). No keepalive or tcp_user_timeout:
with the veth down the namespace's kernel fails sends at once (no route to host), so the
worker's default connection handling is what is tested."""

Emit = Callable[[str], None]


@dataclass(slots=True)
class Timeline:
    """time.time() of each step."""

    cut: float = 0.0
    rescued_done: float = 0.0
    restored: float = 0.0
    rejected: float = 0.0


def rejection_line(job_id: int, attempt: int) -> str:
    return f"outcome of job {job_id} attempt {attempt} rejected"


async def _listen_covers_host_ip(conn: db.Conn) -> bool:
    cur = await conn.execute("SHOW listen_addresses")
    row = await cur.fetchone()
    value = str(row["listen_addresses"]) if row else ""
    return any(a.strip() in ("*", "0.0.0.0", HOST_IP) for a in value.split(","))


@contextlib.asynccontextmanager
async def reachable_url(url: str, conn: db.Conn, emit: Emit) -> AsyncIterator[str]:
    """The URL the namespace uses: PostgreSQL itself on the host veth address if it
    listens there, else a relay bound to that address."""
    parts = urlsplit(url)
    port = parts.port or 5432
    relay: TcpRelay | None = None
    if await _listen_covers_host_ip(conn):
        emit(f"  PostgreSQL listens on {HOST_IP}: the namespace connects to it directly")
    else:
        relay = TcpRelay((HOST_IP, port), (parts.hostname or "127.0.0.1", port))
        await relay.start()
        emit(
            f"  PostgreSQL listens on localhost only (listen_addresses); not restarting a "
            f"shared server: relaying {HOST_IP}:{port} -> {parts.hostname}:{port}"
        )
    user = f"{parts.username}@" if parts.username else ""
    query = f"{parts.query}&{TCP_OPTIONS}" if parts.query else TCP_OPTIONS
    netloc = f"{user}{HOST_IP}:{port}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc, query=query))
    finally:
        if relay is not None:
            await relay.close()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


async def _enqueue(url: str) -> list[int]:
    service = await medley.connect_async(url)
    try:
        results = await service.submit_many(
            [
                medley.EnqueueRequest(
                    job=JOB_NAME, args=(i, JOB_SECONDS), options=medley.JobOptions(queue=QUEUE)
                )
                for i in range(JOBS)
            ]
        )
    finally:
        await service.close()
    return [r.id for r in results]


def _owned_by(owners: dict[int, str | None], pid: int) -> int:
    return sum(1 for o in owners.values() if o and o.rsplit(":", 2)[1] == str(pid))


async def run_partition_part(url: str, log_dir: Path, emit: Emit) -> bool:
    emit("Network partition (--netns)")
    reason = unavailable()
    if reason is not None:
        emit(f"  SKIPPED: network namespaces cannot be created here: {reason}")
        return True
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    conn = await db.connect(url)
    try:
        with Namespace() as ns:
            emit(f"  namespace {ns.exec_prefix[-1]} up, link {HOST_IP}/24 <-> veth")
            async with reachable_url(url, conn, emit) as ns_url:
                return await _scenario(url, ns_url, ns, conn, log_dir, emit)
    finally:
        await conn.close()


async def _scenario(
    url: str, ns_url: str, ns: Namespace, conn: db.Conn, log_dir: Path, emit: Emit
) -> bool:
    pool = WorkerPool(log_dir)
    base = WorkerSpec(database_url=url, queues=QUEUE, concurrency=4)
    t = Timeline()
    try:
        remote_spec = replace(base, database_url=ns_url, prefix=ns.exec_prefix)
        remote = await asyncio.to_thread(pool.start, "net", remote_spec)
        if await asyncio.to_thread(pool.wait_ready, 20.0):
            emit(f"  FAIL: the worker in the namespace did not start; see {remote.log}")
            return False
        emit(f"  worker in the namespace: pid {remote.pid} (via {urlsplit(ns_url).netloc})")
        ids = await _enqueue(url)

        async def claimed() -> bool:
            return _owned_by(await db.owners(conn, QUEUE), remote.pid) == len(ids)

        if not await _until(claimed, 20.0):
            emit("  FAIL: the namespace worker did not claim the jobs")
            return False
        local = await asyncio.to_thread(pool.start, "host", base)
        await asyncio.to_thread(pool.wait_ready, 20.0)
        emit(f"  it runs jobs {ids} ({JOB_SECONDS:.0f}s each); host worker pid {local.pid} idle")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(ns.cut)
        t.cut = time.time()
        emit("  link cut (ip link set down) mid-job")
        return await _after_cut(url, conn, pool, ids, remote.pid, local.pid, ns, t, emit)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(ns.restore)
        await asyncio.to_thread(pool.wait_ready, 10.0)
        await asyncio.to_thread(pool.stop_all, 20.0)


async def _after_cut(
    url: str,
    conn: db.Conn,
    pool: WorkerPool,
    ids: list[int],
    remote: int,
    local: int,
    ns: Namespace,
    t: Timeline,
    emit: Emit,
) -> bool:
    async def all_succeeded() -> bool:
        return (await db.state_counts(conn, QUEUE)).get("succeeded", 0) == len(ids)

    rescued_in_time = await _until(all_succeeded, 60.0)
    t.rescued_done = time.time()
    emit(
        f"  +{t.rescued_done - t.cut:.1f}s: "
        + ("all jobs succeeded on the host side" if rescued_in_time else "NOT all jobs final")
    )
    await asyncio.to_thread(ns.restore)
    t.restored = time.time()
    emit(f"  +{t.restored - t.cut:.1f}s: link restored")
    log = pool.workers["net"].log

    async def all_rejected() -> bool:
        text = log.read_text(errors="replace")
        return all(rejection_line(i, 1) in text for i in ids)

    rejected = await _until(all_rejected, 60.0)
    t.rejected = time.time()
    emit(f"  +{t.rejected - t.cut:.1f}s: " + ("late outcomes rejected" if rejected else "no"))

    async def beating() -> bool:
        cur = await conn.execute(
            "SELECT 1 FROM medley_server WHERE pid = %s AND heartbeat_at > to_timestamp(%s)",
            (remote, t.restored),
        )
        return await cur.fetchone() is not None

    back = await _until(beating, 30.0)
    await asyncio.to_thread(pool.wait_ready, 10.0)
    await asyncio.to_thread(pool.stop_all, 20.0)
    jobs = await db.load_jobs(conn, QUEUE)
    history = await db.load_history(conn, QUEUE)
    findings = analyse(jobs, history, execlog.read(pool.log_dir), [Kill("net", remote, t.cut)])
    runs = execlog.read(pool.log_dir, {remote}).by_job()
    after = _writes_after_rescue(history, remote)
    by_local = [
        j.id
        for j in jobs
        if j.state == "succeeded" and (j.result or {}).get("pid") == local and j.attempt == 2
    ]
    late = [i for i in ids if any(r.end is not None and r.end > t.cut for r in runs.get(i, []))]
    for rescue in findings.rescues:
        emit(
            f"  job {rescue.job}: rescued {rescue.rescued_at - t.cut:+.1f}s, fetched by the "
            f"host worker {rescue.fetched_at - t.cut:+.1f}s after the cut"
        )
    checks = [
        ("jobs rescued and run on the host while the link was down", rescued_in_time, ""),
        (
            "final results are the rescuer-run ones (host pid, attempt 2)",
            len(by_local) == len(ids),
            f"{by_local} of {ids}",
        ),
        (
            "the partitioned worker finished its runs late (exec log)",
            len(late) == len(ids),
            f"{late}",
        ),
        ("its late outcomes were rejected (its log)", rejected, str(log)),
        ("no history row written by it after the rescue", not after, f"{after}"),
        ("it heartbeats again after the link is back", back, ""),
        *findings.checks(),
    ]
    print_checks(checks, emit)
    return all(passed for _, passed, _ in checks)


def _writes_after_rescue(history: list[db.HistoryRecord], pid: int) -> list[int]:
    rescued: set[int] = set()
    bad: list[int] = []
    for row in history:
        if row.reason == "rescued" and row.worker_pid == pid:
            rescued.add(row.job_id)
        elif row.job_id in rescued and row.worker_pid == pid:
            bad.append(row.job_id)
    return bad
