"""The fragment pipeline's jobs: one document in, searchable vectors out.

    medley.ai.extract_document(path)            one job per document: read, store, split,
        │                                       store fragments, fan out
        │  ┌ engine batch, one per document ──────────────────────────────────────────┐
        ├─ medley.ai.embed_fragments(doc, ids)  one job per 32 fragments: model calls in
        ├─ medley.ai.embed_fragments(doc, ids)  length-sorted batches of 16, on the
        │   ...                                 process's inference slots
        │  └──────────────────────────────────────────────────────────────────────────┘
        └─ medley.ai.finalize_document(doc)     the batch's on_success callback: runs once
                                                every embed job succeeded, and is cancelled
                                                by the engine if one fails

The batch is the document's progress in the engine (`get_batch`, /api/batches/{id}, the
dashboard): embed jobs done over embed jobs.

Every step is idempotent under at-least-once delivery: documents are upserted by content
hash, fragments replaced per document, vectors set by id; a retried extraction replaces
the fragments, so the embed jobs of its earlier attempt find nothing left to do.
Progress is reported per job (the dashboard shows it) and per document (fragments
embedded, from the repository). Each job logs through `ctx.log`, stored with the job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from medley.application.models.jobs import EnqueueRequest, JobOptions
from medley.application.models.workflows import BatchRequest
from medley.infrastructure.ai.batching import chunk_requests, map_batched
from medley.infrastructure.ai.documents import UnsupportedDocumentError, read_document
from medley.infrastructure.ai.fragments import split_fragments
from medley.infrastructure.ai.llm import LlmRequestError, estimate_tokens
from medley.infrastructure.ai.repository import FragmentText, Hit
from medley.infrastructure.ai.runtime import AiRuntime, is_configured, runtime
from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.jobs.limits import limit
from medley.infrastructure.jobs.notifications import FailureEvent, on_dead
from medley.infrastructure.jobs.registry import job

EXTRACT = "medley.ai.extract_document"
EMBED = "medley.ai.embed_fragments"
FINALIZE = "medley.ai.finalize_document"
SEARCH = "medley.ai.search"
COMPLETE = "medley.ai.complete"
DOCUMENT_JOBS = frozenset({EXTRACT, EMBED, FINALIZE})
LLM_LIMIT = "medley.ai.llm"
LLM_CONCURRENCY_DEFAULT = 4
"""Language-model calls in flight at once, cluster-wide (the engine's named limit)."""

limit(LLM_LIMIT, max_running=LLM_CONCURRENCY_DEFAULT)
"""The API's limits, kept by every worker together: the start rate is its requests per
minute, the token budget its tokens per minute. Set them for the account at hand, e.g.
`medley limits set medley.ai.llm --max-running 4 --rate 500/min --tokens 40000/min` or
`MEDLEY_LIMITS="medley.ai.llm=max:4 rate:500/min tokens:40000/min"`; declared here with
the concurrency cap only, since the right rates depend on the account."""


def _complete_tokens(prompt: str, system: str | None = None, max_tokens: int = 256) -> int:
    """The reservation of a `complete` job (corrected by its reported usage)."""
    return estimate_tokens(len(prompt) + len(system or ""), max_tokens)


@job(
    name=EXTRACT,
    queue="ai",
    max_attempts=5,
    timeout="10m",
    discard_on=(UnsupportedDocumentError, FileNotFoundError, IsADirectoryError),
)
async def extract_document(ctx: JobContext, path: str) -> dict[str, Any]:
    """Read one file into the documents table, split it into fragments (stored), and
    enqueue its embedding jobs. Returns the document id and counts."""
    rt = await runtime()
    await ctx.progress(0.05, "reading")
    source = await asyncio.to_thread(read_document, Path(path))
    ref = await rt.repository.document_upsert(source)
    if ref.existing and ref.status == "ready":
        ctx.log.info("%s is already stored and embedded (document %d)", source.name, ref.id)
        return {"document_id": ref.id, "document": source.name, "fragments": 0, "skipped": True}
    await ctx.progress(0.3, "splitting")
    fragments = await asyncio.to_thread(
        split_fragments, source.text, rt.embedder.count_tokens, rt.config.fragments
    )
    ids = await rt.repository.fragment_replace(ref.id, fragments)
    await ctx.progress(0.8, f"{len(ids)} fragments stored")
    embed = chunk_requests(
        EMBED, ids, size=rt.config.fragments_per_job, args=(ref.id,),
        options=JobOptions(queue=rt.config.queue),
    )  # fmt: skip
    finalize = EnqueueRequest(
        job=FINALIZE, args=(ref.id,), options=JobOptions(queue=rt.config.queue)
    )
    if embed:
        batch = await rt.jobs.submit_batch(
            BatchRequest(
                jobs=tuple(embed),
                on_success=finalize,
                description=f"{source.name}: embed {len(ids)} fragments",
            )
        )
        batch_id, embed_ids, finalize_id = batch.id, [j.id for j in batch.jobs], batch.on_success_id
    else:  # nothing to embed: the document is final at once
        [finalized] = await rt.jobs.submit_many([finalize])
        batch_id, embed_ids, finalize_id = None, [], finalized.id
    ctx.log.info(
        "%s: %d characters, %d fragments, %d embedding jobs",
        source.name, len(source.text), len(ids), len(embed_ids),
    )  # fmt: skip
    return {
        "document_id": ref.id,
        "document": source.name,
        "chars": len(source.text),
        "fragments": len(ids),
        "tokens": sum(f.tokens for f in fragments),
        "batch_id": batch_id,
        "embed_jobs": embed_ids,
        "finalize_job": finalize_id,
    }


@job(name=EMBED, queue="ai", max_attempts=5, timeout="10m")
async def embed_fragments(
    ctx: JobContext, document_id: int, fragment_ids: list[int]
) -> dict[str, Any]:
    """Embed a chunk of one document's fragments and store the vectors. Fragments that
    no longer exist (replaced by a retried extraction) are skipped."""
    rt = await runtime()
    fragments = await rt.repository.fragment_get_many(fragment_ids)
    vectors = await embed_texts(ctx, rt, fragments)
    await rt.repository.fragment_set_embeddings(rt.embedder.name, vectors)
    ctx.log.info(
        "document %d: embedded %d fragments with %s",
        document_id, len(vectors), rt.embedder.name,
    )  # fmt: skip
    return {
        "document_id": document_id,
        "fragments": len(vectors),
        "tokens": sum(f.tokens for f in fragments),
        "model": rt.embedder.name,
    }


async def embed_texts(
    ctx: JobContext, rt: AiRuntime, fragments: list[FragmentText]
) -> list[tuple[int, bytes]]:
    """(id, vector) per fragment: length-sorted model batches on the inference slots,
    with progress and a cancellation check after each batch."""

    async def call(batch: list[FragmentText]) -> list[bytes]:
        texts = [f.text for f in batch]
        return await rt.slots.run(lambda: rt.embedder.embed(texts))

    async def after(done: int, total: int) -> None:
        ctx.raise_if_cancelled()
        await ctx.progress(done / total, f"model batch {done}/{total}")

    vectors = await map_batched(
        fragments, call, size=rt.config.model_batch, length=lambda f: f.tokens, on_batch=after
    )
    return [(f.id, v) for f, v in zip(fragments, vectors, strict=True)]


@job(name=FINALIZE, queue="ai", max_attempts=5, timeout="1m")
async def finalize_document(
    ctx: JobContext, document_id: int, batch: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Mark the document ready: runs after every embed job of the document succeeded
    (the batch's on_success callback, given the batch summary), and re-checks that no
    fragment is left without a vector."""
    rt = await runtime()
    pending = await rt.repository.fragment_count_pending(document_id)
    if pending:
        ctx.log.warning("document %d still has %d fragments to embed", document_id, pending)
        return {"document_id": document_id, "ready": False, "pending": pending}
    await rt.repository.document_set_status(document_id, "ready")
    document = await rt.repository.document_get(document_id)
    ctx.log.info("document %d is ready", document_id)
    fragments = document.fragment_count if document else 0
    return {"document_id": document_id, "ready": True, "fragments": fragments}


async def similar(text: str, k: int = 5) -> list[Hit]:
    """The `k` stored fragments most similar to `text`, best first: the query embedded by
    this process's model (on its inference slots), compared with the vectors of the same
    model. For code that runs where the model is loaded; elsewhere enqueue `search`."""
    rt = await runtime()
    [query] = await rt.slots.run(lambda: rt.embedder.embed([text]))
    return await rt.repository.fragment_similar(rt.embedder.name, query, k)


@job(name=SEARCH, queue="ai", max_attempts=3, timeout="1m")
async def search(ctx: JobContext, text: str, k: int = 5) -> dict[str, Any]:
    """`similar(text, k)` as a job, for callers without the model (a web request)."""
    rt = await runtime()
    hits = await similar(text, k)
    return {
        "query": text,
        "model": rt.embedder.name,
        "hits": [
            {
                "score": round(h.score, 6), "document": h.document, "document_id": h.document_id,
                "fragment_id": h.fragment_id, "start": h.start, "end": h.end,
                "section": h.section, "text": h.text,
            }
            for h in hits
        ],
    }  # fmt: skip


@job(
    name=COMPLETE,
    queue="ai",
    max_attempts=5,
    timeout="5m",
    discard_on=(LlmRequestError,),
    limit=LLM_LIMIT,
    tokens=_complete_tokens,
)
async def complete(
    ctx: JobContext, prompt: str, system: str | None = None, max_tokens: int = 256
) -> dict[str, Any]:
    """One language-model call within the cluster-wide `medley.ai.llm` limit (its cap,
    requests and tokens per minute; see `llm.py`): the answer's usage replaces the
    reserved estimate, 429s snooze without spending an attempt and back the limit off,
    outages retry, bad requests fail at once."""
    rt = await runtime()
    if rt.llm is None:
        raise LlmRequestError("no language-model API is configured (AiConfig.llm)")
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    ctx.raise_if_cancelled()
    answer = await rt.llm.complete(messages, max_tokens=max_tokens)
    ctx.report_usage(tokens=answer.total_tokens)  # replaces the reservation in the budget
    ctx.log.info("completion: %d prompt + %d completion tokens",
                 answer.prompt_tokens, answer.completion_tokens)  # fmt: skip
    return {
        "text": answer.text,
        "model": answer.model,
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
    }


async def mark_document_failed(event: FailureEvent) -> None:
    """A document job out of attempts fails its document, so that it is not left
    `embedding` for ever; the error is kept on the document row."""
    if event.job not in DOCUMENT_JOBS or event.job == EXTRACT or not is_configured():
        return  # an extract job that died may not have stored its document
    rt = await runtime()
    info = await rt.jobs.get(event.job_id)
    if info.args:
        message = f"{event.job} job {event.job_id} failed: {event.error.get('message', '')}"
        await rt.repository.document_set_status(int(info.args[0]), "failed", message)


on_dead(mark_document_failed)
