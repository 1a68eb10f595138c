"""The demo's driver: enqueues the jobs, then follows them through the job store alone.

Each `refresh()` reads every demo job back with `service.list` / `service.get`; when an
extraction has succeeded, its stored result is cut into `demo.index_fragments` batches.
What the live view and the summary show is therefore what the job system recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medley.application.models.jobs import EnqueueRequest, JobFilter, JobInfo, JobState
from medley.demo.jobs import BATCH_SIZE
from medley.demo.text import cosine
from medley.infrastructure.services.background_job_service import JobService

EXTRACT = "demo.extract_fragments"
INDEX = "demo.index_fragments"
QUESTION = "demo.embed_question"
PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """One fragment ranked against the question."""

    score: float
    document: str
    text: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every demo job as the store last reported it."""

    extract: list[JobInfo]
    index: list[JobInfo]
    question: JobInfo
    batches: int
    """Index batches enqueued so far."""

    @property
    def jobs(self) -> list[JobInfo]:
        return [*self.extract, *self.index, self.question]

    @property
    def done(self) -> bool:
        extracted = all(j.state.is_final for j in self.extract)
        indexed = len(self.index) == self.batches and all(j.state.is_final for j in self.index)
        return extracted and indexed and self.question.state.is_final

    def count(self, *states: JobState) -> int:
        return sum(1 for j in self.jobs if j.state in states)

    @property
    def retried_attempts(self) -> int:
        """Attempts beyond the first, over all jobs (each one a recorded retry)."""
        return sum(max(j.attempt - 1, 0) for j in self.jobs)

    @property
    def fragments(self) -> int:
        return sum(_result(j).get("fragments", 0) for j in self.extract if _succeeded(j))

    def answers(self, top: int = 3) -> list[Answer]:
        """The `top` fragments closest (cosine) to the question's stored vector."""
        if not _succeeded(self.question):
            return []
        query = _result(self.question)["vector"]
        ranked = [
            Answer(cosine(query, fragment["vector"]), result["document"], fragment["text"])
            for result in (_result(j) for j in self.index if _succeeded(j))
            for fragment in result["fragments"]
        ]
        return sorted(ranked, key=lambda a: a.score, reverse=True)[:top]


def _succeeded(info: JobInfo) -> bool:
    return info.state is JobState.SUCCEEDED


def _result(info: JobInfo) -> dict[str, Any]:
    return info.result if isinstance(info.result, dict) else {}


@dataclass
class Pipeline:
    """Runs the demo's jobs on `service` and follows them; `start()` once, then
    `refresh()` until the snapshot is `done`."""

    service: JobService
    documents: Sequence[Path]
    question: str
    first_id: int = 0
    question_id: int = 0
    _batched: set[int] = field(default_factory=set)
    _batches: int = 0

    async def start(self) -> None:
        """Enqueue one extraction per document and the (flaky) question job."""
        requests = [EnqueueRequest(job=EXTRACT, args=(str(p),)) for p in self.documents]
        requests.append(EnqueueRequest(job=QUESTION, args=(self.question,)))
        results = await self.service.submit_many(requests)
        self.first_id = min(r.id for r in results)
        self.question_id = results[-1].id

    async def refresh(self) -> Snapshot:
        """Read every demo job back; enqueue index batches for new extractions."""
        extract = await self._jobs(EXTRACT)
        for info in extract:
            if _succeeded(info) and info.id not in self._batched:
                await self._enqueue_batches(info)
        return Snapshot(
            extract=extract,
            index=await self._jobs(INDEX),
            question=await self.service.get(self.question_id),
            batches=self._batches,
        )

    async def _enqueue_batches(self, extracted: JobInfo) -> None:
        result = _result(extracted)
        texts: list[str] = result.get("texts", [])
        batches = [
            EnqueueRequest(job=INDEX, args=(result["document"], texts[i : i + BATCH_SIZE]))
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        await self.service.submit_many(batches)
        self._batched.add(extracted.id)
        self._batches += len(batches)

    async def _jobs(self, name: str) -> list[JobInfo]:
        """This run's jobs of one name (ids from `first_id` on), oldest first."""
        found: list[JobInfo] = []
        cursor: str | None = None
        while True:
            page = await self.service.list(JobFilter(job=name), limit=PAGE_SIZE, cursor=cursor)
            found.extend(j for j in page.items if j.id >= self.first_id)
            if page.next_cursor is None or page.items[-1].id < self.first_id:
                return sorted(found, key=lambda j: j.id)
            cursor = page.next_cursor
