"""What the job system costs on the AI pipeline: the same fragments embedded by calling
the model directly, and through Medley's jobs (extract → embed batches → finalize).

    .venv/bin/python -m benchmarks.ai_overhead                      # SQLite, 3 repeats
    .venv/bin/python -m benchmarks.ai_overhead --documents 16 --threads 1
    .venv/bin/python -m benchmarks.ai_overhead --database-url postgresql://postgres@127.0.0.1/test

The corpus is `--documents` files, each `--size` of the demo's documents end to end (~36
fragments with the default 6, so that each document fans out into two embedding jobs).
Three ways, in turn, each repeated, medians shown:

* **model only**: the fragments' texts, already split, through the model in length-sorted
  batches of 16 on `--threads` threads. The floor.
* **direct pipeline**: read, split, store documents and fragments, embed, store vectors
  — the pipeline's work with no job system (the AI repository, no jobs).
* **job system**: every document enqueued as `medley.ai.extract_document` and run by an
  in-process worker (concurrency 8, `medley worker`'s default intervals, the same model
  instance and threads) until every document is `ready`: enqueues, fetches, outcome
  writes, progress, heartbeats, continuations.

Overhead is the job system's time over the direct pipeline's, in wall seconds and in
process CPU seconds (the CPU figure is what a busy, shared machine cannot blur). Needs
the ai extra and the model weights (`make demo` installs both).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import drop_database, recreate_database
from medley.application.models.jobs import EnqueueRequest
from medley.demo.jobs import document_paths
from medley.infrastructure.ai import runtime as ai
from medley.infrastructure.ai.batching import length_batches
from medley.infrastructure.ai.documents import read_document
from medley.infrastructure.ai.fragments import split_fragments
from medley.infrastructure.ai.jobs import EXTRACT, FINALIZE
from medley.infrastructure.ai.minilm import MiniLmEmbedder
from medley.infrastructure.ai.repository import create_repository
from medley.infrastructure.ai.runtime import AiConfig
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.port import JobCompletion
from medley.infrastructure.services.connect import connect_async, open_store

MODEL_BATCH = 16


@dataclass(frozen=True, slots=True)
class Run:
    way: str
    fragments: int
    wall: float
    cpu: float

    @property
    def per_hour(self) -> float:
        return self.fragments / self.wall * 3600


def make_corpus(folder: Path, documents: int, size: int) -> list[Path]:
    """`documents` Markdown files, each made of `size` demo documents in turn (~6 fragments
    each), each with a distinct title so that every file is a document of its own."""
    sources = [p.read_text(encoding="utf-8") for p in document_paths()]
    paths = []
    for number in range(documents):
        parts = [sources[(number * size + i) % len(sources)] for i in range(size)]
        path = folder / f"document-{number}.md"
        path.write_text(f"# Document {number}\n\n" + "\n\n".join(parts), encoding="utf-8")
        paths.append(path)
    return paths


async def measure(way: str, work: Callable[[], Awaitable[int]]) -> Run:
    cpu, wall = time.process_time(), time.perf_counter()
    fragments = await work()
    return Run(way, fragments, time.perf_counter() - wall, time.process_time() - cpu)


def embed_all(model: MiniLmEmbedder, texts: list[str], threads: int) -> list[bytes]:
    lengths = model.count_tokens(texts)
    batches = [[texts[i] for i in b] for b in length_batches(lengths, MODEL_BATCH)]
    with ThreadPoolExecutor(threads) as pool:
        return [v for vectors in pool.map(model.embed, batches) for v in vectors]


async def model_only(model: MiniLmEmbedder, paths: list[Path], threads: int) -> Run:
    documents = [read_document(p).text for p in paths]
    texts = [f.text for d in documents for f in split_fragments(d, model.count_tokens)]
    return await measure(
        "model only", lambda: asyncio.to_thread(lambda: len(embed_all(model, texts, threads)))
    )


async def direct_pipeline(model: MiniLmEmbedder, paths: list[Path], url: str, threads: int) -> Run:
    repository = create_repository(url)
    await repository.open()

    async def work() -> int:
        total = 0
        for path in paths:
            document = read_document(path)
            ref = await repository.document_upsert(document)
            fragments = split_fragments(document.text, model.count_tokens)
            ids = await repository.fragment_replace(ref.id, fragments)
            vectors = await asyncio.to_thread(
                embed_all, model, [f.text for f in fragments], threads
            )
            await repository.fragment_set_embeddings(
                model.name, list(zip(ids, vectors, strict=True))
            )
            await repository.document_set_status(ref.id, "ready")
            total += len(ids)
        return total

    try:
        return await measure("direct pipeline", work)
    finally:
        await repository.close()


async def job_system(model: MiniLmEmbedder, paths: list[Path], url: str, threads: int) -> Run:
    service = await connect_async(url, auto_migrate=True)
    ai.configure(url, service, AiConfig(inference_threads=threads), embedder=model)
    rt = await ai.runtime()
    poll = 0.2 if url.startswith("sqlite") else 5.0  # `medley worker`'s defaults
    finalized: set[int] = set()
    all_final = asyncio.Event()

    def written(batch: list[JobCompletion], ids: set[int]) -> None:
        """The worker's own hook: no polling query skews the measurement."""
        finalized.update(c.id for c in batch if c.job == FINALIZE and c.id in ids)
        if len(finalized) == len(paths):
            all_final.set()

    config = WorkerConfig(queues=("ai",), concurrency=8, poll_seconds=poll)
    server = WorkerServer(service.store, service.registry, config, on_outcomes_written=written)
    service.on_enqueued.append(server.wake)
    await server.start()

    async def work() -> int:
        await service.submit_many([_request(p) for p in paths])
        await all_final.wait()
        stats = await rt.repository.stats()
        if stats.ready != len(paths):
            raise RuntimeError(f"{stats.ready} of {len(paths)} documents are ready")
        return stats.embedded

    try:
        return await measure("job system", work)
    finally:
        await server.stop()
        await ai.shutdown()
        await service.close()


def _request(path: Path) -> EnqueueRequest:
    return EnqueueRequest(job=EXTRACT, args=(str(path),))


async def fresh_database(base: str | None, folder: Path, index: int, created: list[str]) -> str:
    """A new SQLite file, or a new database on the PostgreSQL server (dropped at the end;
    synchronous_commit on, as in production)."""
    if base is None:
        url = f"sqlite:///{folder / f'bench-{index}.db'}"
    else:
        name = f"bench_ai_{index}"
        created.append(name)
        url = await recreate_database(base, name, durable=True)
    store = await open_store(url, auto_migrate=True)  # the direct pipeline needs the tables
    await store.close()
    return url


async def main(args: argparse.Namespace) -> None:
    model = MiniLmEmbedder()
    model.embed(["warm up the model once"])
    runs: list[Run] = []
    created: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_corpus(folder, args.documents, args.size)
        try:
            for repeat in range(args.repeat):
                direct_url = await fresh_database(args.database_url, folder, 2 * repeat, created)
                jobs_url = await fresh_database(args.database_url, folder, 2 * repeat + 1, created)
                runs.append(await model_only(model, paths, args.threads))
                runs.append(await direct_pipeline(model, paths, direct_url, args.threads))
                runs.append(await job_system(model, paths, jobs_url, args.threads))
        finally:
            for name in created:
                await drop_database(args.database_url, name)
    report(runs, len(paths), args)


def report(runs: list[Run], documents: int, args: argparse.Namespace) -> None:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{documents} documents, {runs[0].fragments} fragments, {args.threads} inference "
          f"threads, {backend}, median of {args.repeat}")  # fmt: skip
    medians: dict[str, tuple[float, float]] = {}
    for way in ("model only", "direct pipeline", "job system"):
        mine = [r for r in runs if r.way == way]
        wall = statistics.median(r.wall for r in mine)
        cpu = statistics.median(r.cpu for r in mine)
        medians[way] = (wall, cpu)
        print(f"  {way:<16} {wall:7.2f} s wall {cpu:7.2f} s CPU "
              f"{mine[0].fragments / wall * 3600:>10,.0f} fragments/hour")  # fmt: skip
    for base in ("direct pipeline", "model only"):
        wall = (medians["job system"][0] / medians[base][0] - 1) * 100
        cpu = (medians["job system"][1] / medians[base][1] - 1) * 100
        print(f"  job system over {base}: {wall:+.1f}% wall, {cpu:+.1f}% CPU")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=8, help="documents (8)")
    parser.add_argument(
        "--size", type=int, default=6, help="demo documents per document (6: ~36 fragments)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way (3)")
    parser.add_argument("--threads", type=int, default=2, help="inference threads (2)")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite files)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
