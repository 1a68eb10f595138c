"""`python -m benchmarks.run`: Medley (PostgreSQL and SQLite) against PgQueuer and
Procrastinate. See benchmarks/README.md for what each row measures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import importlib.metadata
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

from benchmarks.ceiling import run_ceiling
from benchmarks.harness import (
    DEFAULT_DATABASE_URL,
    AdapterFactory,
    BenchConfig,
    RunResult,
    drop_database,
    recreate_database,
    run_rows,
    server_version,
)
from benchmarks.idle import IdleResult, measure_idle
from benchmarks.report import ModeResults, SystemInfo, print_mode, write_json
from benchmarks.stats import format_number

Backend = Literal["postgres", "sqlite"]


@dataclasses.dataclass(frozen=True)
class SystemSpec:
    key: str
    label: str
    factory: AdapterFactory
    backend: Backend


def available_systems() -> tuple[list[SystemSpec], list[str]]:
    """Every system that imports; the others are reported as skipped."""
    specs: list[SystemSpec] = []
    notes: list[str] = []
    try:
        from benchmarks.medley_bench import MedleyAdapter

        specs += [
            SystemSpec("medley_pg", "Medley PG", MedleyAdapter, "postgres"),
            SystemSpec("medley_sqlite", "Medley SQLite", MedleyAdapter, "sqlite"),
        ]
    except ImportError as exc:
        notes.append(f"Medley skipped (its API does not import: {exc})")
    try:
        from benchmarks.pgqueuer_bench import PgQueuerAdapter

        specs.append(SystemSpec("pgqueuer", "PgQueuer", PgQueuerAdapter, "postgres"))
        if PgQueuerAdapter.driver_name != "asyncpg":
            notes.append("PgQueuer runs on its psycopg driver (asyncpg absent): ~1 s stalls")
    except ImportError as exc:
        notes.append(f"PgQueuer skipped: {exc}")
    try:
        from benchmarks.procrastinate_bench import ProcrastinateAdapter

        specs.append(SystemSpec("procrastinate", "Procrastinate", ProcrastinateAdapter, "postgres"))
    except ImportError as exc:
        notes.append(f"Procrastinate skipped: {exc}")
    return specs, notes


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def fresh_target(spec: SystemSpec, cfg: BenchConfig, *, durable: bool) -> AsyncIterator[str]:
    """A fresh database for one run: `bench_<system>` on PostgreSQL, a temp file on SQLite."""
    if spec.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="medley-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    dbname = f"bench_{spec.key}"
    url = await recreate_database(cfg.database_url, dbname, durable=durable)
    try:
        yield url
    finally:
        await drop_database(cfg.database_url, dbname)


async def run_system(spec: SystemSpec, cfg: BenchConfig, *, durable: bool) -> RunResult:
    async with fresh_target(spec, cfg, durable=durable) as url:
        adapter = spec.factory(url)
        try:
            await adapter.open()
            return await run_rows(adapter, cfg)
        except Exception as exc:
            return RunResult(errors=[f"setup: {type(exc).__name__}: {exc}"])
        finally:
            await adapter.close()


def _summary(result: RunResult) -> str:
    parts = [
        f"single {format_number(result.single_jobs_per_s)}/s",
        f"bulk {format_number(result.bulk_jobs_per_s)}/s",
        f"drain {format_number(result.drain_jobs_per_s)}/s",
        f"p50 {format_number(result.latency_p50_ms)} ms",
        f"p99 {format_number(result.latency_p99_ms)} ms",
        f"sleep {format_number(result.sleep_wall_s)} s",
    ]
    if result.errors:
        parts.append(f"{len(result.errors)} error(s)")
    return ", ".join(parts)


async def run_idle(specs: Sequence[SystemSpec], cfg: BenchConfig, results: ModeResults) -> None:
    """Row 6 for every PostgreSQL system, all measured at the same time (each on its own
    database and proxy; an idle worker needs no CPU, so they do not disturb each other)."""
    pg = [s for s in specs if s.backend == "postgres"]
    progress(f"idle cost: {', '.join(s.label for s in pg)} for {cfg.idle_seconds:.0f} s")
    outcomes = await asyncio.gather(
        *(
            measure_idle(
                s.factory, cfg.database_url, f"bench_{s.key}", cfg, durable=results.durable
            )
            for s in pg
        ),
        return_exceptions=True,
    )
    for spec, outcome in zip(pg, outcomes, strict=True):
        if isinstance(outcome, IdleResult):
            results.idle[spec.key] = outcome
        else:
            results.notes.append(f"{spec.label} idle: {type(outcome).__name__}: {outcome}")


async def run_mode(
    specs: Sequence[SystemSpec], cfg: BenchConfig, args: argparse.Namespace, *, durable: bool
) -> ModeResults:
    results = ModeResults(durable=durable, systems=[SystemInfo(s.key, s.label) for s in specs])
    label = "synchronous_commit=on" if durable else "synchronous_commit=off"
    for rep in range(args.repeat):
        shift = rep % len(specs)
        for spec in [*specs[shift:], *specs[:shift]]:  # rotate to spread position effects
            progress(f"{label} run {rep + 1}/{args.repeat}: {spec.label} ...")
            result = await run_system(spec, cfg, durable=durable)
            results.runs.setdefault(spec.key, []).append(result)
            progress(f"  {spec.label}: {_summary(result)}")
            for error in result.errors:
                progress(f"  ! {error}")
    if not args.no_idle:
        await run_idle(specs, cfg, results)
    if args.ceiling:
        progress(f"SQL ceiling ({args.ceiling_jobs} jobs, {label}) ...")
        try:
            results.ceiling = await run_ceiling(
                cfg.database_url, args.ceiling_jobs, durable=durable
            )
        except Exception as exc:
            results.notes.append(f"ceiling: {type(exc).__name__}: {exc}")
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per system (median)")
    durability = parser.add_mutually_exclusive_group()
    durability.add_argument(
        "--durable", action="store_true", help="keep synchronous_commit on (default: off)"
    )
    durability.add_argument(
        "--both-durability", action="store_true", help="run with synchronous_commit off, then on"
    )
    parser.add_argument("--ceiling", action="store_true", help="also run sql-ceiling/run.sh")
    parser.add_argument("--ceiling-jobs", type=int, default=20_000)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write results as JSON")
    parser.add_argument(
        "--systems",
        help="comma-separated subset of medley_pg,medley_sqlite,pgqueuer,procrastinate",
    )
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--no-idle", action="store_true", help="skip row 6 (idle cost)")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (a smoke test, not for comparing)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("MEDLEY_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="server to create the bench_* databases on (env MEDLEY_BENCH_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def make_config(args: argparse.Namespace) -> BenchConfig:
    cfg = BenchConfig(
        database_url=args.database_url,
        concurrency=args.concurrency,
        idle_seconds=args.idle_seconds,
    )
    if args.quick:
        cfg = dataclasses.replace(
            cfg,
            single_jobs=200,
            bulk_jobs=2_000,
            latency_jobs=100,
            idle_seconds=min(args.idle_seconds, 5.0),
            idle_warmup=1.0,
        )
    return cfg


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


async def main_async(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = make_config(args)
    specs, notes = available_systems()
    if args.systems:
        wanted = {s.strip() for s in args.systems.split(",") if s.strip()}
        unknown = wanted - {s.key for s in specs}
        if unknown:
            notes.append(f"not available: {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.key in wanted]
    for note in notes:
        progress(note)
    if not specs:
        print("no system to benchmark", file=sys.stderr)
        return 2
    pg_version = await server_version(cfg.database_url)
    load_before = os.getloadavg()
    modes = [False, True] if args.both_durability else [bool(args.durable)]
    all_results: list[ModeResults] = []
    for durable in modes:
        results = await run_mode(specs, cfg, args, durable=durable)
        results.notes[:0] = notes
        all_results.append(results)
        print_mode(results, args.repeat, cfg.drain_jobs)
    if args.json:
        header: dict[str, Any] = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "postgresql": pg_version,
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "versions": {
                p: _version(p)
                for p in ("medley", "pgqueuer", "procrastinate", "psycopg", "asyncpg")
            },
            "repeat": args.repeat,
        }
        config = {**dataclasses.asdict(cfg), "drain_jobs": cfg.drain_jobs}
        config.pop("database_url")
        write_json(args.json, header, all_results, config)
        progress(f"wrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(main_async(parse_args(argv))))


if __name__ == "__main__":
    main()
