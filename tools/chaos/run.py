"""`make chaos` / `python -m tools.chaos.run`: the chaos run, then (with `--netns`) the
network-partition run. Exits non-zero if any check fails."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tools.chaos import database as db
from tools.chaos.monkey import MonkeyConfig
from tools.chaos.report import print_result
from tools.chaos.scenario import ChaosConfig, run_chaos


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.chaos.run", description=__doc__)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=10, help="job slots per process")
    p.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    p.add_argument("--max-kills", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--slow-fraction", type=float, default=0.02, help="share of 1-2 s jobs")
    p.add_argument("--deadline", type=float, default=600.0, help="seconds for all to finish")
    p.add_argument(
        "--database-url",
        default=None,
        help=f"an existing empty database; default: recreate {db.DEFAULT_URL}",
    )
    p.add_argument("--netns", action="store_true", help="also run the network-partition part")
    p.add_argument("--netns-only", action="store_true", help="only the network part")
    p.add_argument("--keep-logs", action="store_true", help="keep the execution/worker logs")
    return p.parse_args(argv)


async def main_async(args: argparse.Namespace, log_dir: Path) -> bool:
    url = args.database_url or db.DEFAULT_URL
    if args.database_url is None:
        await db.recreate_database(url)
        print(f"database {url} recreated and migrated")
    else:
        await db.migrate(url)
    if args.netns_only:
        from tools.chaos.partition import run_partition_part

        return await run_partition_part(url, log_dir / "netns", print)
    cfg = ChaosConfig(
        database_url=url,
        log_dir=log_dir,
        jobs=args.jobs,
        processes=args.processes,
        concurrency=args.concurrency,
        seed=args.seed,
        slow_fraction=args.slow_fraction,
        deadline=args.deadline,
        monkey=MonkeyConfig(kill_every=args.kill_every, max_kills=args.max_kills),
    )
    print(
        f"chaos run: {cfg.jobs} jobs, {cfg.processes} worker processes x {cfg.concurrency} "
        f"slots, kill -9 every {args.kill_every}s (the run restarts them), seed {cfg.seed}; "
        f"heartbeat {cfg.heartbeat}s, lease {cfg.lease}s, rescuer {cfg.rescuer}s, "
        f"poll {cfg.poll}s; logs in {log_dir}"
    )
    result = await run_chaos(cfg, emit=lambda line: print(line, flush=True))
    print_result(cfg, result, print)
    ok = result.ok
    if args.netns:
        from tools.chaos.partition import run_partition_part

        ok = await run_partition_part(url, log_dir / "netns", print) and ok
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="medley-chaos-"))
    ok = False
    try:
        ok = asyncio.run(main_async(args, log_dir))
    finally:
        if ok and not args.keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            print(f"logs kept in {log_dir}")
    print("RESULT: PASS" if ok else "RESULT: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
