"""The fragment pipeline on the real worker runtime, on both backends: one extraction per
document fans out embedding jobs (the batching pattern) as an engine batch whose
on_success callback finalizes the document;
search answers from the stored vectors; failures end where they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from medley.application.models.jobs import JobFilter, JobState, StateChangeReason
from medley.infrastructure.ai import jobs as ai_jobs
from medley.infrastructure.ai.documents import read_document
from medley.infrastructure.ai.repository import FragmentRepository
from medley.infrastructure.ai.runtime import AiRuntime
from medley.infrastructure.jobs.notifications import FailureEvent
from medley.infrastructure.services.background_job_service import JobService
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

DOCUMENTS = {
    "tides.md": "# Tides\n\nThe moon raises two bulges of water. High tide comes later each "
    "day because the moon moves along its orbit.\n\n## Springs\n\nSun and moon in line "
    "make spring tides.",
    "bees.html": "<h1>Bees</h1><p>In winter the bees cluster and shiver to keep the queen "
    "warm.</p><p>They eat the honey they stored in summer.</p>",
    "walls.txt": "Dry stone walls are built without mortar. Each stone is placed so that "
    "it rests on two below it.",
}


def write_documents(folder: Path) -> list[Path]:
    paths = []
    for name, text in DOCUMENTS.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


async def all_final(repository: FragmentRepository, count: int) -> bool:
    stats = await repository.stats()
    return stats.documents == count and stats.ready + stats.failed == count


async def test_documents_go_through_extract_embed_and_finalize(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, tmp_path: Path
) -> None:
    paths = write_documents(tmp_path)
    await worker_factory()

    extract_ids = [await service.enqueue(ai_jobs.EXTRACT, str(p)) for p in paths]
    await wait_for(lambda: all_final(ai_runtime.repository, len(paths)), timeout=30)

    stats = await ai_runtime.repository.stats()
    assert stats.ready == 3
    assert stats.embedded == stats.fragments > 3
    for extract_id in extract_ids:
        info = await service.wait(extract_id, timeout=5)
        assert info.state is JobState.SUCCEEDED
        result = info.result
        assert len(result["embed_jobs"]) == -(-result["fragments"] // 2)  # 2 per job here
        batch = await service.get_batch(result["batch_id"])  # the document's progress
        assert (batch.total, batch.succeeded) == (len(result["embed_jobs"]),) * 2
        assert batch.progress.fraction == 1.0
        assert batch.on_success_id == result["finalize_job"]
        finalize = await service.wait(result["finalize_job"], timeout=10)
        assert finalize.state is JobState.SUCCEEDED
        assert StateChangeReason.CONTINUED in [h.reason for h in finalize.history]
        assert finalize.kwargs["batch"]["succeeded"] == batch.total
    embed = (await service.list(JobFilter(job=ai_jobs.EMBED), limit=100)).items
    assert embed
    assert all(j.state is JobState.SUCCEEDED for j in embed)
    assert all(j.progress.fraction == 1.0 for j in embed)
    assert embed[0].progress.message == "model batch 1/1"  # 2 fragments, model batch of 2


async def test_search_returns_the_most_similar_fragment_with_its_source(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, tmp_path: Path
) -> None:
    paths = write_documents(tmp_path)
    await worker_factory()
    for path in paths:
        await service.enqueue(ai_jobs.EXTRACT, str(path))
    await wait_for(lambda: all_final(ai_runtime.repository, len(paths)), timeout=30)

    job_id = await service.enqueue(ai_jobs.SEARCH, "why do bees shiver in winter", 2)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    best = info.result["hits"][0]
    assert best["document"] == "bees.html"
    assert "shiver" in best["text"]
    body = await ai_runtime.repository.document_body(best["document_id"])
    assert body is not None
    assert body[best["start"] : best["end"]] == best["text"]


async def test_extracting_the_same_content_again_is_skipped_once_it_is_ready(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, tmp_path: Path
) -> None:
    [path, *_] = write_documents(tmp_path)
    await worker_factory()
    await service.enqueue(ai_jobs.EXTRACT, str(path))
    await wait_for(lambda: all_final(ai_runtime.repository, 1), timeout=30)

    again = await service.wait(await service.enqueue(ai_jobs.EXTRACT, str(path)), timeout=10)

    assert again.result["skipped"] is True
    assert (await ai_runtime.repository.stats()).documents == 1


async def test_an_unreadable_document_fails_at_once_without_retries(
    service: JobService, ai_runtime: AiRuntime, worker_factory: StartWorker, tmp_path: Path
) -> None:
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    await worker_factory()

    info = await service.wait(
        await service.enqueue(ai_jobs.EXTRACT, str(tmp_path / "sheet.xlsx")), timeout=10
    )

    assert info.state is JobState.FAILED
    assert info.attempt == 1
    assert info.error is not None
    assert info.error.type == "UnsupportedDocumentError"


async def test_a_dead_embedding_job_fails_its_document(
    service: JobService, ai_runtime: AiRuntime, tmp_path: Path
) -> None:
    [path, *_] = write_documents(tmp_path)
    job_id = await service.enqueue(ai_jobs.EXTRACT, str(path))  # no worker: stays enqueued
    ref = await ai_runtime.repository.document_upsert(
        read_document(path)  # what the extraction would store
    )
    embed_id = await service.enqueue(ai_jobs.EMBED, ref.id, [1])
    event = FailureEvent(
        job_id=embed_id, job=ai_jobs.EMBED, queue="ai", attempt=5,
        error={"type": "RuntimeError", "message": "model crashed"}, dead=True, worker="w",
    )  # fmt: skip

    await ai_jobs.mark_document_failed(event)

    row = await ai_runtime.repository.document_get(ref.id)
    assert row is not None
    assert row.status == "failed"
    assert row.error is not None
    assert "model crashed" in row.error
    assert (await service.get(job_id)).state is JobState.ENQUEUED
