"""The checks of a chaos run, from three independent sources: the jobs table, the state
history, and the execution log the jobs wrote themselves; compared with the kill times."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from tools.chaos.database import HistoryRecord, JobRecord
from tools.chaos.execlog import Execution, ExecutionLog
from tools.chaos.processes import Kill


@dataclass(frozen=True, slots=True)
class Rescue:
    job: int
    killed_pid: int
    kill_at: float
    rescued_at: float
    fetched_at: float

    @property
    def delay(self) -> float:
        """From the kill to the job being fetched again."""
        return self.fetched_at - self.kill_at


@dataclass(slots=True)
class Findings:
    jobs: int = 0
    states: dict[str, int] = field(default_factory=dict)
    not_succeeded: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    """Jobs with no finished execution in the execution log."""
    result_mismatch: list[int] = field(default_factory=list)
    """Jobs whose stored result is not the outcome of a finished execution."""
    executions: int = 0
    duplicated_jobs: int = 0
    dup_killed_running: int = 0
    """Extra executions that started before a kill of their pid and never ended."""
    dup_outcome_lost: int = 0
    """Extra executions that ended, but their pid was killed before the outcome was stored."""
    dup_unexpected: list[Execution] = field(default_factory=list)
    rescues: list[Rescue] = field(default_factory=list)
    rescue_unexplained: list[HistoryRecord] = field(default_factory=list)
    """`rescued` rows whose worker was never killed."""
    rescued_not_refetched: list[int] = field(default_factory=list)
    log_problems: int = 0

    def checks(self) -> list[tuple[str, bool, str]]:
        """(name, passed, detail) for every invariant."""
        dup = f"{len(self.dup_unexpected)} unexpected"
        if self.dup_unexpected:
            dup += f", e.g. {self.dup_unexpected[:3]}"
        return [
            ("every job succeeded", not self.not_succeeded, _ids(self.not_succeeded)),
            ("no job lost (each ran to the end at least once)", not self.lost, _ids(self.lost)),
            (
                "each stored result is a finished execution's",
                not self.result_mismatch,
                _ids(self.result_mismatch),
            ),
            ("duplicates only for executions hit by a kill", not self.dup_unexpected, dup),
            (
                "every rescue follows a kill of the owner",
                not self.rescue_unexplained,
                f"{len(self.rescue_unexplained)} unexplained",
            ),
            (
                "every rescued job was fetched again",
                not self.rescued_not_refetched,
                _ids(self.rescued_not_refetched),
            ),
            ("execution log well formed", not self.log_problems, f"{self.log_problems} bad"),
        ]

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks())

    def rescue_summary(self) -> str:
        if not self.rescues:
            return "no rescues"
        worst = max(self.rescues, key=lambda r: r.delay)
        detect = [r.rescued_at - r.kill_at for r in self.rescues]
        requeue = [r.fetched_at - r.rescued_at for r in self.rescues]
        return (
            f"{len(self.rescues)} rescued jobs; kill -> fetched again: median "
            f"{statistics.median(r.delay for r in self.rescues):.2f}s, worst "
            f"{worst.delay:.2f}s (job {worst.job}); kill -> rescued: median "
            f"{statistics.median(detect):.2f}s, worst {max(detect):.2f}s; rescued -> fetched "
            f"(waiting in the queue): median {statistics.median(requeue):.2f}s, worst "
            f"{max(requeue):.2f}s"
        )


def _ids(ids: Sequence[int]) -> str:
    return f"{len(ids)}" + (f": {list(ids[:10])}" if ids else "")


def analyse(
    jobs: Sequence[JobRecord],
    history: Sequence[HistoryRecord],
    log: ExecutionLog,
    kills: Sequence[Kill],
) -> Findings:
    f = Findings(jobs=len(jobs), log_problems=log.unreadable + log.orphan_ends)
    killed = {k.pid: k.at for k in kills}
    runs_by_job = log.by_job()
    f.executions = len(log.executions)
    for job in jobs:
        f.states[job.state] = f.states.get(job.state, 0) + 1
        if job.state != "succeeded":
            f.not_succeeded.append(job.id)
        runs = runs_by_job.get(job.id, [])
        if not any(r.end is not None for r in runs):
            f.lost.append(job.id)
        final = _final_execution(job, runs)
        if job.state == "succeeded" and final is None:
            f.result_mismatch.append(job.id)
        extras = [r for r in runs if r is not final]
        if extras and len(runs) > 1:
            f.duplicated_jobs += 1
        for run in extras:
            _classify_extra(f, run, killed)
    _rescues(f, history, killed)
    return f


def _final_execution(job: JobRecord, runs: Sequence[Execution]) -> Execution | None:
    result = job.result or {}
    for run in runs:
        if (
            run.end is not None
            and run.pid == result.get("pid")
            and run.attempt == result.get("attempt") == job.attempt
        ):
            return run
    return None


def _classify_extra(f: Findings, run: Execution, killed: dict[int, float]) -> None:
    kill_at = killed.get(run.pid)
    if kill_at is None or kill_at < run.start:
        f.dup_unexpected.append(run)
    elif run.end is None:
        f.dup_killed_running += 1
    else:
        f.dup_outcome_lost += 1


def _rescues(f: Findings, history: Sequence[HistoryRecord], killed: dict[int, float]) -> None:
    pending: dict[int, tuple[HistoryRecord, float]] = {}
    for row in history:
        if row.reason == "rescued":
            pid = row.worker_pid
            if pid is None or pid not in killed:
                f.rescue_unexplained.append(row)
            else:
                pending[row.job_id] = (row, killed[pid])
        elif row.reason == "fetched" and row.job_id in pending:
            rescued, kill_at = pending.pop(row.job_id)
            f.rescues.append(
                Rescue(row.job_id, rescued.worker_pid or 0, kill_at, rescued.at, row.at)
            )
    f.rescued_not_refetched = sorted(pending)
