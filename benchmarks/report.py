"""Collecting repeats into medians, Medley/peer ratios, the printed table and the JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.ceiling import CeilingRow
from benchmarks.harness import RunResult
from benchmarks.idle import IdleResult
from benchmarks.stats import format_number, format_ratio, format_share, median_of, ratio

TARGET = "medley_pg"


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool


METRICS: tuple[Metric, ...] = (
    Metric("single_jobs_per_s", "1 single enqueue", "jobs/s", True),
    Metric("bulk_jobs_per_s", "2 bulk enqueue", "jobs/s", True),
    Metric("drain_jobs_per_s", "3 drain no-op", "jobs/s", True),
    Metric("latency_p50_ms", "4 pickup latency p50", "ms", False),
    Metric("latency_p95_ms", "4 pickup latency p95", "ms", False),
    Metric("latency_p99_ms", "4 pickup latency p99", "ms", False),
    Metric("sleep_wall_s", "5 sleep(0.05) jobs wall", "s", False),
    Metric("idle_statements_per_s", "6 idle statements/s", "stmt/s", False),
)


@dataclasses.dataclass(frozen=True)
class SystemInfo:
    key: str
    label: str


@dataclasses.dataclass
class ModeResults:
    """Everything measured under one synchronous_commit setting."""

    durable: bool
    systems: list[SystemInfo]
    runs: dict[str, list[RunResult]] = dataclasses.field(default_factory=dict)
    idle: dict[str, IdleResult] = dataclasses.field(default_factory=dict)
    ceiling: list[CeilingRow] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def title(self) -> str:
        return "synchronous_commit = on" if self.durable else "synchronous_commit = off"

    def values(self, system: str, metric: str) -> list[float]:
        if metric == "idle_statements_per_s":
            idle = self.idle.get(system)
            return [idle.statements_per_s] if idle else []
        return [float(getattr(run, metric)) for run in self.runs.get(system, [])]

    def median(self, system: str, metric: str) -> float:
        return median_of(self.values(system, metric))

    def peers(self) -> list[SystemInfo]:
        return [s for s in self.systems if not s.key.startswith("medley")]

    def ratio(self, metric: str, peer: str) -> float:
        return ratio(self.median(TARGET, metric), self.median(peer, metric))

    def best_ceiling(self) -> CeilingRow | None:
        return max(self.ceiling, key=lambda r: r.jobs_per_s, default=None)

    def ceiling_share(self) -> float:
        best = self.best_ceiling()
        if best is None:
            return math.nan
        return ratio(self.median(TARGET, "drain_jobs_per_s"), best.jobs_per_s)

    def errors(self) -> list[str]:
        out = list(self.notes)
        for system in self.systems:
            for i, run in enumerate(self.runs.get(system.key, [])):
                out += [f"{system.label} run {i + 1}: {e}" for e in run.errors]
        return out


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    return console


def print_mode(results: ModeResults, repeat: int, drain_jobs: int) -> None:
    console = _console()
    table = Table(
        title=f"Medley benchmark — {results.title} — medians of {repeat} run(s)",
        title_justify="left",
    )
    table.add_column("row")
    table.add_column("unit")
    for system in results.systems:
        table.add_column(system.label, justify="right")
    for peer in results.peers():
        table.add_column(f"Medley PG / {peer.label}", justify="right")
    table.add_column("better")
    for metric in METRICS:
        label = metric.label + (f" ({drain_jobs:,})" if metric.key == "drain_jobs_per_s" else "")
        cells = [label, metric.unit]
        cells += [format_number(results.median(s.key, metric.key)) for s in results.systems]
        cells += [format_ratio(results.ratio(metric.key, p.key)) for p in results.peers()]
        cells.append("higher (ratio > 1)" if metric.higher_is_better else "lower (ratio < 1)")
        table.add_row(*cells)
    console.print(table)
    if results.ceiling:
        best = results.best_ceiling()
        rows = ", ".join(
            f"batch={r.batch}/clients={r.clients}: {r.jobs_per_s:,.0f}" for r in results.ceiling
        )
        console.print(f"SQL ceiling jobs/s ({rows})")
        if best is not None:
            console.print(
                f"Medley PG drain = {format_share(results.ceiling_share())} of the best "
                f"ceiling row (batch={best.batch}, clients={best.clients}, "
                f"{best.jobs_per_s:,.0f} jobs/s)"
            )
    for error in results.errors():
        console.print(f"[yellow]! {error}[/yellow]", highlight=False)


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def mode_json(results: ModeResults) -> dict[str, Any]:
    systems: dict[str, Any] = {}
    for system in results.systems:
        metrics = {
            m.key: {
                "runs": [_clean(v) for v in results.values(system.key, m.key)],
                "median": _clean(results.median(system.key, m.key)),
            }
            for m in METRICS
        }
        idle = results.idle.get(system.key)
        systems[system.key] = {
            "label": system.label,
            "metrics": metrics,
            "idle": dataclasses.asdict(idle) if idle else None,
        }
    return {
        "synchronous_commit": "on" if results.durable else "off",
        "systems": systems,
        "ratios_medley_pg_over_peer": {
            peer.key: {m.key: _clean(results.ratio(m.key, peer.key)) for m in METRICS}
            for peer in results.peers()
        },
        "ceiling": [dataclasses.asdict(r) for r in results.ceiling],
        "medley_drain_share_of_best_ceiling": _clean(results.ceiling_share()),
        "errors": results.errors(),
    }


def write_json(
    path: Path, header: dict[str, Any], modes: Sequence[ModeResults], config: dict[str, Any]
) -> None:
    document = {**header, "config": config, "modes": [mode_json(m) for m in modes]}
    path.write_text(json.dumps(document, indent=2) + "\n")
