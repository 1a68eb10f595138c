"""The demo's own job: the sample question, asked through a deliberately flaky upstream
so that the summary shows the engine retrying. The document work is done by the AI
pipeline's jobs (`medley.infrastructure.ai.jobs`), exactly as an application runs them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import medley
from medley.infrastructure.ai.documents import MEDIA_TYPES
from medley.infrastructure.ai.jobs import search

DOCUMENTS_DIR = Path(__file__).with_name("documents")
"""The bundled sample documents (package data)."""
ASK = "demo.ask"


def document_paths(directory: Path = DOCUMENTS_DIR) -> list[Path]:
    """The bundled documents the pipeline can read, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.suffix.lower() in MEDIA_TYPES)


class UpstreamUnavailableError(ConnectionError):
    """The simulated search service refused the first call."""


def _no_backoff(attempt: int) -> timedelta:
    return timedelta(0)


@medley.job(name=ASK, queue="ai", max_attempts=3, backoff=_no_backoff)
async def ask(ctx: medley.JobContext, question: str, k: int = 3) -> dict[str, Any]:
    """The `k` fragments closest to `question`. The first attempt always fails (a
    simulated outage), so the summary shows a retry; no backoff, to stay quick."""
    if ctx.attempt == 1:
        raise UpstreamUnavailableError(
            "simulated outage: the search service refused attempt 1 (the retry succeeds)"
        )
    return await search(ctx, question, k)
