"""The demo's driver: enqueues one extraction per document, follows every job through
the job store and every document through the AI repository, and asks the sample
question once every document is final. What the live view and the summary show is what
the two stores recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medley.application.models.jobs import EnqueueRequest, JobFilter, JobInfo, JobState
from medley.demo.jobs import ASK
from medley.infrastructure.ai.jobs import EMBED, EXTRACT, FINALIZE
from medley.infrastructure.ai.repository import DocumentProgress, FragmentRepository
from medley.infrastructure.services.background_job_service import JobService

PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """One fragment ranked against the question."""

    score: float
    document: str
    text: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every demo job and document as the stores last reported them."""

    extract: list[JobInfo]
    embed: list[JobInfo]
    finalize: list[JobInfo]
    question: JobInfo | None
    documents: list[DocumentProgress]

    @property
    def jobs(self) -> list[JobInfo]:
        question = [self.question] if self.question is not None else []
        return [*self.extract, *self.embed, *self.finalize, *question]

    @property
    def documents_final(self) -> bool:
        """Every extraction ended, and every document it stored is ready or failed."""
        return all(j.state.is_final for j in self.extract) and all(
            d.status in ("ready", "failed") or _document_dead(d, self) for d in self.documents
        )

    @property
    def done(self) -> bool:
        return self.documents_final and self.question is not None and self.question.state.is_final

    def count(self, *states: JobState) -> int:
        return sum(1 for j in self.jobs if j.state in states)

    @property
    def retried_attempts(self) -> int:
        """Attempts beyond the first, over all jobs (each one a recorded retry)."""
        return sum(max(j.attempt - 1, 0) for j in self.jobs)

    @property
    def fragments(self) -> int:
        return sum(d.fragments for d in self.documents)

    @property
    def embedded(self) -> int:
        return sum(d.embedded for d in self.documents)

    @property
    def failed_documents(self) -> int:
        extract_failed = sum(1 for j in self.extract if j.state is not JobState.SUCCEEDED
                             and j.state.is_final)  # fmt: skip
        return extract_failed + sum(1 for d in self.documents if d.status == "failed")

    def answers(self) -> list[Answer]:
        """The hits of the sample question, best first (empty until it succeeded)."""
        if self.question is None or self.question.state is not JobState.SUCCEEDED:
            return []
        hits: list[dict[str, Any]] = _result(self.question).get("hits", [])
        return [Answer(h["score"], h["document"], h["text"]) for h in hits]


def _document_dead(document: DocumentProgress, snapshot: Snapshot) -> bool:
    """A document whose finalize job was cancelled (an embed job failed) is final too."""
    return any(
        j.state is JobState.CANCELLED and j.args and j.args[0] == document.id
        for j in snapshot.finalize
    )


def _result(info: JobInfo) -> dict[str, Any]:
    return info.result if isinstance(info.result, dict) else {}


@dataclass
class Pipeline:
    """Runs the demo on `service`; `start()` once, then `refresh()` until `done`."""

    service: JobService
    repository: FragmentRepository
    documents: Sequence[Path]
    question: str
    first_id: int = 0
    question_id: int | None = None
    _document_ids: list[int] = field(default_factory=list)

    async def start(self) -> None:
        """Enqueue one extraction per document, in one round trip."""
        requests = [EnqueueRequest(job=EXTRACT, args=(str(p),)) for p in self.documents]
        results = await self.service.submit_many(requests)
        self.first_id = min(r.id for r in results)

    async def refresh(self) -> Snapshot:
        """Read the jobs and documents back; ask the question once documents are final."""
        extract = await self._jobs(EXTRACT)
        ids = [_result(j)["document_id"] for j in extract if j.state is JobState.SUCCEEDED]
        snapshot = Snapshot(
            extract=extract,
            embed=await self._jobs(EMBED),
            finalize=await self._jobs(FINALIZE),
            question=await self.service.get(self.question_id) if self.question_id else None,
            documents=await self.repository.document_progress(ids),
        )
        if self.question_id is None and snapshot.documents_final:
            [asked] = await self.service.submit_many(
                [EnqueueRequest(job=ASK, args=(self.question,))]
            )
            self.question_id = asked.id
        return snapshot

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
