"""The demo's jobs. They use only the public API (`medley.job`, `medley.JobContext`), as
any application's jobs would; the driver in `pipeline.py` chains them through the store."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import medley
from medley.demo.text import (
    FragmentStats,
    hashed_vector,
    split_fragments,
    term_statistics,
    tokens,
)

DOCUMENTS_DIR = Path(__file__).with_name("documents")
"""The bundled sample documents (package data)."""
DOCUMENT_SUFFIXES = (".md", ".txt")
WORK_DELAY_SECONDS = 0.12
"""Pause per fragment, standing in for the OCR or model latency of real extraction and
embedding, so that the live view has something to show. Small enough for a quick demo."""
BATCH_SIZE = 16
"""Fragments per `demo.index_fragments` job."""


def document_paths(directory: Path = DOCUMENTS_DIR) -> list[Path]:
    """The bundled documents, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.suffix in DOCUMENT_SUFFIXES)


class UpstreamUnavailableError(ConnectionError):
    """The simulated embedding service refused the first call."""


def _no_backoff(attempt: int) -> timedelta:
    return timedelta(0)


@medley.job(name="demo.extract_fragments", queue="default", max_attempts=3)
async def extract_fragments(ctx: medley.JobContext, path: str) -> dict[str, Any]:
    """Read one document and cut it into fragments (headings, paragraphs, sentences).

    Returns the document name, the fragment count, the character count and the fragment
    texts, from which the driver enqueues `demo.index_fragments` batches.
    """
    source = Path(path)
    await ctx.progress(0.0, "reading")
    text = await asyncio.to_thread(source.read_text, encoding="utf-8")
    fragments = split_fragments(text)
    for done in range(1, len(fragments) + 1):
        ctx.raise_if_cancelled()
        await asyncio.sleep(WORK_DELAY_SECONDS)
        await ctx.progress(done / len(fragments), f"{done}/{len(fragments)} fragments")
    ctx.log.info("%s: %d fragments from %d characters", source.name, len(fragments), len(text))
    return {
        "document": source.name,
        "fragments": len(fragments),
        "chars": len(text),
        "texts": fragments,
    }


@medley.job(name="demo.index_fragments", queue="default", max_attempts=3)
async def index_fragments(
    ctx: medley.JobContext, document: str, fragments: list[str]
) -> dict[str, Any]:
    """Term statistics and a unit-length hashed bag-of-words vector for each fragment."""
    indexed: list[FragmentStats] = []
    for done, fragment in enumerate(fragments, start=1):
        ctx.raise_if_cancelled()
        await asyncio.sleep(WORK_DELAY_SECONDS / 2)
        indexed.append(term_statistics(fragment))
        await ctx.progress(done / len(fragments), f"{done}/{len(fragments)} indexed")
    return {
        "document": document,
        "tokens": sum(f["tokens"] for f in indexed),
        "fragments": indexed,
    }


@medley.job(name="demo.embed_question", queue="default", max_attempts=3, backoff=_no_backoff)
async def embed_question(ctx: medley.JobContext, question: str) -> dict[str, Any]:
    """The question's vector, from a deliberately flaky "embedding service": the first
    attempt always fails, so the summary shows a retry (with no backoff, to stay quick)."""
    if ctx.attempt == 1:
        raise UpstreamUnavailableError(
            "simulated outage: the embedding service refused attempt 1 (the retry succeeds)"
        )
    await asyncio.sleep(WORK_DELAY_SECONDS)
    return {"question": question, "vector": hashed_vector(Counter(tokens(question)))}
