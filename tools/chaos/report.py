"""Printing a chaos run's results."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tools.chaos.scenario import ChaosConfig, ChaosResult


def print_checks(checks: Sequence[tuple[str, bool, str]], emit: Callable[[str], None]) -> None:
    for name, passed, detail in checks:
        mark = "ok  " if passed else "FAIL"
        emit(f"  [{mark}] {name}" + (f" ({detail})" if detail and not passed else ""))


def print_result(cfg: ChaosConfig, result: ChaosResult, emit: Callable[[str], None]) -> None:
    f = result.findings
    extra = f.dup_killed_running + f.dup_outcome_lost + len(f.dup_unexpected)
    emit("Results")
    emit(f"  jobs: {f.jobs}, final states {f.states}")
    emit(
        f"  executions logged: {f.executions} for {f.jobs} jobs; "
        f"{f.duplicated_jobs} jobs ran more than once ({extra} extra executions)"
    )
    emit(
        f"    expected duplicates: {f.dup_killed_running} started before a kill of their "
        f"process and never ended, {f.dup_outcome_lost} ended but the process was killed "
        f"before the outcome was stored; unexpected: {len(f.dup_unexpected)}"
    )
    emit(f"  lost jobs: {len(f.lost)}")
    emit(
        f"  kills (kill -9): {result.kills}; worker processes started: {result.worker_starts}; "
        f"database backends terminated: {result.terminated_backends}"
    )
    for crash, line in zip(result.crashes, result.crash_logs, strict=True):
        emit(f"  CRASHED on its own: {crash.slot} pid {crash.pid} (exit {crash.code}): {line}")
    emit(f"  outcomes rejected by fencing (worker logs): {result.rejected_outcomes}")
    emit(
        f"  throughput: {result.throughput:.0f} jobs/s ({f.jobs} jobs in "
        f"{result.run_seconds:.1f}s under chaos, {cfg.processes} processes x "
        f"{cfg.concurrency} slots); enqueue took {result.enqueue_seconds:.1f}s"
    )
    emit(f"  rescues: {f.rescue_summary()}")
    emit("Checks")
    print_checks(result.checks(), emit)
