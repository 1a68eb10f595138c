"""One chaos run: enqueue N jobs, run P worker processes under the chaos loop until every
job is final, stop them gracefully, and check the invariants."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import medley
from tools.chaos import database as db
from tools.chaos import execlog
from tools.chaos.jobs import JOB_NAME
from tools.chaos.monkey import Monkey, MonkeyConfig
from tools.chaos.processes import Kill, WorkerPool, WorkerSpec
from tools.chaos.verify import Findings, analyse

FINAL_STATES = ("succeeded", "failed", "cancelled")
REJECTED = "rejected: the job is no longer held by this worker"
ENQUEUE_BATCH = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosConfig:
    database_url: str
    log_dir: Path
    jobs: int = 10_000
    processes: int = 2
    concurrency: int = 10
    seed: int = 1
    slow_fraction: float = 0.02
    deadline: float = 600.0
    queue: str = "default"
    monkey: MonkeyConfig = field(default_factory=MonkeyConfig)
    heartbeat: float = 0.5
    lease: float = 3.0
    rescuer: float = 0.5
    leader: float = 0.5
    poll: float = 5.0

    def spec(self) -> WorkerSpec:
        return WorkerSpec(
            database_url=self.database_url,
            queues=self.queue,
            concurrency=self.concurrency,
            heartbeat=self.heartbeat,
            lease=self.lease,
            rescuer=self.rescuer,
            leader=self.leader,
            poll=self.poll,
        )


@dataclass(slots=True)
class ChaosResult:
    findings: Findings
    kills: int
    terminated_backends: int
    worker_starts: int
    enqueue_seconds: float
    run_seconds: float
    timed_out: bool
    exit_codes: dict[str, int]
    rejected_outcomes: int
    crashes: list[Kill]
    """Workers that exited on their own (restarted by the run's watcher)."""
    crash_logs: list[str]

    @property
    def throughput(self) -> float:
        return self.findings.jobs / self.run_seconds if self.run_seconds else 0.0

    def checks(self) -> list[tuple[str, bool, str]]:
        graceful = all(code == 0 for code in self.exit_codes.values())
        crashed = [f"{c.slot} pid {c.pid} exit {c.code}" for c in self.crashes]
        return [
            ("all jobs final before the deadline", not self.timed_out, ""),
            *self.findings.checks(),
            ("no worker process died on its own", not self.crashes, "; ".join(crashed)),
            ("workers stopped gracefully (exit 0)", graceful, str(self.exit_codes)),
        ]

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks())


def plan_durations(count: int, seed: int, slow_fraction: float) -> list[float]:
    """Seconds each job sleeps: 1-30 ms, or 1-2 s for about `slow_fraction` of them."""
    rng = random.Random(seed)
    return [
        rng.uniform(1.0, 2.0) if rng.random() < slow_fraction else rng.uniform(0.001, 0.030)
        for _ in range(count)
    ]


async def enqueue(cfg: ChaosConfig) -> float:
    durations = plan_durations(cfg.jobs, cfg.seed, cfg.slow_fraction)
    options = medley.JobOptions(queue=cfg.queue)
    service = await medley.connect_async(cfg.database_url)
    started = time.perf_counter()
    try:
        for first in range(0, cfg.jobs, ENQUEUE_BATCH):
            await service.submit_many(
                [
                    medley.EnqueueRequest(job=JOB_NAME, args=(i, d), options=options)
                    for i, d in enumerate(durations[first : first + ENQUEUE_BATCH], first)
                ]
            )
    finally:
        await service.close()
    return time.perf_counter() - started


async def wait_final(
    conn: db.Conn, cfg: ChaosConfig, monkey: Monkey, emit: Callable[[str], None]
) -> bool:
    """Poll until every job is final (and, with `max_kills`, the kills are done).
    False on deadline."""
    started = time.monotonic()
    last_print = started
    while True:
        counts = await db.state_counts(conn, cfg.queue)
        final = sum(counts.get(s, 0) for s in FINAL_STATES)
        now = time.monotonic()
        if now - last_print >= 5.0:
            last_print = now
            emit(f"  t={now - started:5.1f}s {final}/{cfg.jobs} final, states {counts}")
        if final >= cfg.jobs and (cfg.monkey.max_kills is None or monkey.done):
            return True
        if now - started > cfg.deadline:
            emit(f"  DEADLINE after {cfg.deadline:.0f}s: states {counts}")
            return False
        await asyncio.sleep(0.25)


def count_rejections(pool: WorkerPool) -> int:
    return sum(path.read_text(errors="replace").count(REJECTED) for path in pool.logs.values())


def last_error(path: Path) -> str:
    """The last line of a crashed worker's log that names an error."""
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if "Error" in ln]
    return f"{path.name}: {lines[-1].strip() if lines else '(no error line)'}"


async def run_chaos(cfg: ChaosConfig, emit: Callable[[str], None] = print) -> ChaosResult:
    """The run; the database must be migrated and hold no jobs."""
    conn = await db.connect(cfg.database_url)
    try:
        if await db.job_total(conn):
            raise RuntimeError(f"{cfg.database_url} already holds jobs; use a fresh database")
        enqueue_seconds = await enqueue(cfg)
        emit(f"enqueued {cfg.jobs} jobs in {enqueue_seconds:.1f}s")
        pool = WorkerPool(cfg.log_dir)
        spec = cfg.spec()
        slots = [f"w{i}" for i in range(cfg.processes)]
        started = time.time()
        for slot in slots:
            worker = await asyncio.to_thread(pool.start, slot, spec)
            emit(f"  started {slot} pid {worker.pid}")
        monkey = Monkey(pool, spec, slots, conn, random.Random(cfg.seed), cfg.monkey, emit)
        task = asyncio.create_task(monkey.run())
        try:
            complete = await wait_final(conn, cfg, monkey, emit)
            finished = time.time()
        finally:
            await monkey.stop(task)
            await asyncio.to_thread(pool.wait_ready)
            exit_codes = await asyncio.to_thread(pool.stop_all, 30.0)
        emit(f"all workers stopped: exit codes {exit_codes}")
        jobs = await db.load_jobs(conn, cfg.queue)
        history = await db.load_history(conn, cfg.queue)
    finally:
        await conn.close()
    log = execlog.read(cfg.log_dir)
    return ChaosResult(
        findings=analyse(jobs, history, log, [*pool.kills, *pool.crashes]),
        kills=len(pool.kills),
        terminated_backends=monkey.terminated,
        worker_starts=pool.spawned,
        enqueue_seconds=enqueue_seconds,
        run_seconds=finished - started,
        timed_out=not complete,
        exit_codes=exit_codes,
        rejected_outcomes=count_rejections(pool),
        crashes=pool.crashes,
        crash_logs=[last_error(pool.logs[c.pid]) for c in pool.crashes],
    )
