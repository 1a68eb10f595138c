"""What the AI jobs need in a worker process, configured once by the composition root.

Jobs are stored by name and may run in any worker process, so they cannot be handed
their repository or model by the code that enqueued them. The process that runs them
(the demo, `medley serve --with-worker`, an application's worker module) calls
`configure(url, ...)` once — cheap and synchronous, fine at import time — and each job
calls `await runtime()`, which opens the repository and loads the model on first use
(once per process, under a lock). `shutdown()` releases them. Tests configure their
own and shut it down.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

from medley.application.errors import ConfigError
from medley.application.interfaces import BackgroundJobService
from medley.infrastructure.ai.embedding import MINILM, Embedder, EmbedderChoice, load_embedder
from medley.infrastructure.ai.fragments import FragmentConfig
from medley.infrastructure.ai.limits import InferenceSlots
from medley.infrastructure.ai.llm import LlmClient, LlmConfig
from medley.infrastructure.ai.repository import FragmentRepository, create_repository

AI_QUEUE = "ai"
FRAGMENTS_PER_JOB_DEFAULT = 32
"""Fragments per embedding job: two model batches, ~1–2 s of work, so that the queue's
per-job cost (enqueue, fetch, outcome) stays a few percent of the job."""
MODEL_BATCH_DEFAULT = 16
"""Fragments per model call, sorted by length: larger batches gain little on a CPU and
pad more."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AiConfig:
    """How the pipeline runs in this process. Checked at construction."""

    embedder: str = MINILM
    """`minilm` (falls back to `hashed` with a warning when the ai extra is missing)."""
    fragments: FragmentConfig = field(default_factory=FragmentConfig)
    fragments_per_job: int = FRAGMENTS_PER_JOB_DEFAULT
    model_batch: int = MODEL_BATCH_DEFAULT
    inference_threads: int = 1
    """Model calls at once in this process. One per worker process (scale with
    `--processes`): more threads in one process contend for the GIL between numpy calls."""
    queue: str = AI_QUEUE
    """Queue of the fan-out jobs the pipeline enqueues (embedding, finalizing)."""
    llm: LlmConfig | None = None
    """The language-model API for `medley.ai.complete` jobs (None: not configured)."""

    def __post_init__(self) -> None:
        if self.fragments_per_job < 1 or self.model_batch < 1:
            raise ValueError("fragments_per_job and model_batch must be at least 1")
        if self.inference_threads < 1:
            raise ValueError("inference_threads must be at least 1")


@dataclass
class AiRuntime:
    """The opened resources AI jobs share in this process."""

    repository: FragmentRepository
    embedder: Embedder
    jobs: BackgroundJobService
    config: AiConfig
    slots: InferenceSlots
    fallback_reason: str | None = None
    """Why the hashed embedder stands in for the model (None: the model is in use)."""
    llm: LlmClient | None = None
    """The language-model client, when `AiConfig.llm` is set."""


@dataclass
class _Pending:
    url: str
    jobs: BackgroundJobService
    config: AiConfig
    embedder: Embedder | None
    opened: AiRuntime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_state: _Pending | None = None


def configure(
    url: str,
    jobs: BackgroundJobService,
    config: AiConfig | None = None,
    *,
    embedder: Embedder | None = None,
) -> None:
    """Declare where this process's AI jobs keep their data (the job store's URL) and the
    service they enqueue follow-up jobs with. Opening happens on first use. Replaces an
    earlier configuration (call `shutdown()` first if that one was opened)."""
    global _state
    _state = _Pending(url, jobs, config or AiConfig(), embedder)


AI_JOBS_MODULE = "medley.infrastructure.ai.jobs"


def configure_for_worker(url: str, jobs: BackgroundJobService) -> bool:
    """Let a plain `medley worker --import medley.infrastructure.ai.jobs` (or `serve
    --with-worker`) run the AI jobs: when their module is imported and the application has
    not configured them itself, they use the worker's own database and service. Returns
    True if this configured them."""
    if is_configured() or AI_JOBS_MODULE not in sys.modules:
        return False
    configure(url, jobs)
    return True


def is_configured() -> bool:
    """True once `configure` was called in this process (and not shut down since)."""
    return _state is not None


async def runtime() -> AiRuntime:
    """The opened runtime (opened now if this is the first call). Raises `ConfigError`
    when `configure` was never called in this process."""
    state = _state
    if state is None:
        raise ConfigError(
            "the AI jobs are not configured in this process: call "
            "medley.infrastructure.ai.runtime.configure(database_url, jobs) at startup"
        )
    if state.opened is None:
        async with state.lock:
            if state.opened is None:
                state.opened = await _open(state)
    return state.opened


async def _open(state: _Pending) -> AiRuntime:
    choice = (
        EmbedderChoice(state.embedder)
        if state.embedder is not None
        else await asyncio.to_thread(load_embedder, state.config.embedder)
    )
    repository = create_repository(state.url)
    await repository.open()
    return AiRuntime(
        repository=repository,
        embedder=choice.embedder,
        jobs=state.jobs,
        config=state.config,
        slots=InferenceSlots(state.config.inference_threads),
        fallback_reason=choice.fallback_reason,
        llm=LlmClient(state.config.llm) if state.config.llm is not None else None,
    )


async def shutdown() -> None:
    """Close what `runtime()` opened and forget the configuration."""
    global _state
    state, _state = _state, None
    if state is not None and state.opened is not None:
        opened = state.opened
        opened.slots.close()
        if opened.llm is not None:
            await opened.llm.close()
        await opened.repository.close()
