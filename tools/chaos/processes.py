"""Worker processes of a chaos run. The chaos run is their supervisor: it kills a worker
with SIGKILL and starts a replacement itself (after `restart_delay`), so every kill has an
exact timestamp and pid. (`medley worker --processes P` would also restart it, but with a
backoff that doubles for children younger than 60 s, and no way to shorten the rescuer.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.chaos.jobs import LOG_DIR_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "serving queues"
"""Logged by `WorkerServer.start()` once the worker registered and handles SIGTERM."""
APP_PREFIX = "medley-chaos-"
"""`application_name` prefix of every worker connection (through PGAPPNAME)."""


@dataclass(frozen=True, slots=True)
class Kill:
    """A worker death: a SIGKILL sent by the run, or (`code` set) a worker that exited
    on its own, seen at `at`."""

    slot: str
    pid: int
    at: float
    """time.time() just before the signal, or when the exit was seen."""
    code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSpec:
    database_url: str
    queues: str = "default"
    concurrency: int = 10
    heartbeat: float = 0.5
    lease: float = 3.0
    rescuer: float = 0.5
    leader: float = 0.5
    poll: float = 5.0
    prefix: Sequence[str] = ()
    """Command prefix, e.g. `ip netns exec NAME` to run the worker in a namespace."""

    def command(self) -> list[str]:
        return [
            *self.prefix,
            sys.executable,
            "-m",
            "tools.chaos.worker",
            "--database-url",
            self.database_url,
            "--queues",
            self.queues,
            "--concurrency",
            str(self.concurrency),
            "--heartbeat",
            str(self.heartbeat),
            "--lease",
            str(self.lease),
            "--rescuer",
            str(self.rescuer),
            "--leader",
            str(self.leader),
            "--poll",
            str(self.poll),
        ]


@dataclass(slots=True)
class Worker:
    slot: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        return self.process.pid


class WorkerPool:
    """Starts, kills and stops named worker processes; remembers every pid it started."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.workers: dict[str, Worker] = {}
        self.kills: list[Kill] = []
        self.crashes: list[Kill] = []
        self.logs: dict[int, Path] = {}
        self.spawned = 0

    def start(self, slot: str, spec: WorkerSpec) -> Worker:
        self.spawned += 1
        log = self.log_dir / f"worker-{slot}-{self.spawned}.log"
        env = {
            **os.environ,
            LOG_DIR_ENV: str(self.log_dir),
            "PGAPPNAME": f"{APP_PREFIX}{slot}",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "PYTHONUNBUFFERED": "1",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                spec.command(), cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = Worker(slot, process, log)
        self.workers[slot] = worker
        self.logs[process.pid] = log
        return worker

    def kill(self, slot: str) -> Kill:
        """SIGKILL the worker in `slot` and reap it."""
        worker = self.workers[slot]
        kill = Kill(slot, worker.pid, time.time())
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()
        self.kills.append(kill)
        return kill

    def reap_crashed(self, skip: Collection[str]) -> list[Kill]:
        """Workers (outside `skip`) that exited without being told to; recorded once."""
        found = []
        for slot, worker in self.workers.items():
            code = None if slot in skip else worker.process.poll()
            if code is not None and all(c.pid != worker.pid for c in self.crashes):
                crash = Kill(slot, worker.pid, time.time(), code)
                self.crashes.append(crash)
                found.append(crash)
        return found

    def stop(self, slot: str, timeout: float = 30.0, *, signalled: bool = False) -> int:
        """SIGTERM (graceful stop); SIGKILL after `timeout`. Returns the exit code."""
        process = self.workers.pop(slot).process
        if not signalled and process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -signal.SIGKILL

    def stop_all(self, timeout: float = 30.0) -> dict[str, int]:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        return {
            slot: self.stop(slot, max(deadline - time.monotonic(), 0.1), signalled=True)
            for slot in list(self.workers)
        }

    def ready(self, slot: str) -> bool:
        """The worker registered and serves its queues (its log says so)."""
        worker = self.workers[slot]
        return READY_LINE in worker.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0) -> list[str]:
        """Wait until every live worker is ready (so a SIGTERM finds its signal handlers
        installed); returns the slots that were not ready in time."""
        deadline = time.monotonic() + timeout
        waiting = list(self.workers)
        while waiting and time.monotonic() < deadline:
            waiting = [s for s in waiting if self.alive(s) and not self.ready(s)]
            if waiting:
                time.sleep(0.1)
        return waiting

    def alive(self, slot: str) -> bool:
        worker = self.workers.get(slot)
        return worker is not None and worker.process.poll() is None
