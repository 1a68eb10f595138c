"""`python -m tools.chaos.worker`: one worker process, like `medley worker --processes 1`,
but with every interval settable (the CLI does not expose the rescuer or leader interval,
which default to 15 s and 5 s). Mirrors `serve_until_signalled`: SIGTERM stops it
gracefully."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from medley.infrastructure.jobs.runtime.main import serve_until_signalled
from medley.infrastructure.jobs.runtime.server import WorkerConfig
from medley.infrastructure.logs import configure_logging
from medley.infrastructure.services.connect import open_store


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.chaos.worker")
    p.add_argument("--database-url", required=True)
    p.add_argument("--queues", default="default")
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--heartbeat", type=float, default=0.5, help="seconds between heartbeats")
    p.add_argument("--lease", type=float, default=3.0, help="silence after which a worker is dead")
    p.add_argument("--rescuer", type=float, default=0.5, help="rescuer interval (leader only)")
    p.add_argument("--leader", type=float, default=0.5, help="leader election interval")
    p.add_argument("--poll", type=float, default=5.0, help="fallback fetch interval (CLI: 5)")
    p.add_argument("--grace", type=float, default=10.0, help="shutdown grace seconds")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> WorkerConfig:
    return WorkerConfig(
        queues=[q for q in args.queues.split(",") if q],
        concurrency=args.concurrency,
        poll_seconds=args.poll,
        heartbeat_seconds=args.heartbeat,
        lease_seconds=args.lease,
        shutdown_grace_seconds=args.grace,
        leader_seconds=args.leader,
        rescuer_seconds=args.rescuer,
        cpu_processes=0,  # no process pool: a kill -9 must not leave orphans behind
    )


async def serve(args: argparse.Namespace) -> None:
    store = await open_store(args.database_url, pool_max=min(args.concurrency + 4, 20))
    try:
        await serve_until_signalled(store, config_from(args))
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    configure_logging("console", "INFO")
    import tools.chaos.jobs  # noqa: F401  (registers the chaos job)

    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
