"""Read the execution logs written by `tools.chaos.jobs`: one `Execution` per start line,
with its end time if the execution finished."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class Execution:
    job: int
    attempt: int
    pid: int
    start: float
    end: float | None = None


@dataclass(slots=True)
class ExecutionLog:
    executions: list[Execution]
    unreadable: int
    """Lines that did not parse (there should be none: each line is one atomic write)."""
    orphan_ends: int
    """End lines without their start line (there should be none)."""

    def by_job(self) -> dict[int, list[Execution]]:
        out: dict[int, list[Execution]] = {}
        for e in self.executions:
            out.setdefault(e.job, []).append(e)
        for runs in out.values():
            runs.sort(key=lambda e: e.start)
        return out


def read(directory: Path, pids: set[int] | None = None) -> ExecutionLog:
    """Every `exec-<pid>.log` in `directory` (only those of `pids` if given)."""
    open_runs: dict[tuple[int, int, int], Execution] = {}
    executions: list[Execution] = []
    unreadable = orphans = 0
    for path in sorted(directory.glob("exec-*.log")):
        if pids is not None and int(path.stem.split("-", 1)[1]) not in pids:
            continue
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
                key = (int(event["job"]), int(event["attempt"]), int(event["pid"]))
                at = float(event["t"])
                kind = event["ev"]
            except (ValueError, KeyError, TypeError):
                unreadable += 1
                continue
            if kind == "start":
                run = Execution(key[0], key[1], key[2], at)
                open_runs[key] = run
                executions.append(run)
            elif key in open_runs:
                open_runs.pop(key).end = at
            else:
                orphans += 1
    return ExecutionLog(executions, unreadable, orphans)
