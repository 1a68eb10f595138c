"""What the demo prints: live progress bars per stage and per document, fed from store
snapshots, then the summary table and the answers to the sample question."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from medley.application.models.jobs import FINAL_STATES, JobInfo, JobState
from medley.demo.pipeline import Answer, Snapshot
from medley.infrastructure.ai.repository import DocumentProgress


def _status(jobs: list[JobInfo]) -> str:
    running = sum(1 for j in jobs if j.state is JobState.PROCESSING)
    failed = sum(1 for j in jobs if j.state in (JobState.FAILED, JobState.CANCELLED))
    retrying = sum(1 for j in jobs if j.state is JobState.SCHEDULED)
    waiting = sum(1 for j in jobs if j.state is JobState.AWAITING)
    parts = [f"{running} running"] + [f"{retrying} retrying"] * bool(retrying)
    parts += [f"{waiting} awaiting"] * bool(waiting)
    return ", ".join(parts + [f"[red]{failed} failed[/]"] * bool(failed))


def _question_status(info: JobInfo | None) -> str:
    if info is None:
        return "waiting for the documents"
    if info.state is JobState.SUCCEEDED:
        retries = f" after {info.attempt - 1} retry" if info.attempt > 1 else ""
        return f"[green]answered{retries}[/]"
    if info.error is not None:
        return f"[yellow]attempt {info.attempt} failed ({info.error.type}): {info.state}[/]"
    return info.state.value


@contextmanager
def logs_above(console: Console) -> Iterator[None]:
    """Route log records through `console` while the live view runs, so that they print
    above the bars instead of tearing them (the worker's retry warning, for one)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [RichHandler(console=console, show_path=False, log_time_format="%X")]
    try:
        yield
    finally:
        root.handlers[:] = saved


def _final(jobs: list[JobInfo]) -> int:
    return sum(1 for j in jobs if j.state in FINAL_STATES)


class PipelineView:
    """Rich progress: one bar per stage, and one per document while it is being embedded."""

    def __init__(self, console: Console, documents: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(bar_width=32),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        add = self.progress.add_task
        self.extract = add("extract (per document)", total=documents, status="")
        self.embed = add("embed (batches of 32)", total=None, status="")
        self.finalize = add("finalize (batch callback)", total=documents, status="")
        self.question = add("question (flaky)", total=1, status="")
        self._documents: dict[int, TaskID] = {}

    def __enter__(self) -> PipelineView:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def update(self, snapshot: Snapshot) -> None:
        p = self.progress
        p.update(self.extract, completed=_final(snapshot.extract), status=_status(snapshot.extract))
        p.update(
            self.embed,
            total=len(snapshot.embed) or None,
            completed=_final(snapshot.embed),
            status=f"{snapshot.embedded}/{snapshot.fragments} fragments, "
            + _status(snapshot.embed),
        )
        p.update(
            self.finalize, completed=_final(snapshot.finalize), status=_status(snapshot.finalize)
        )
        p.update(
            self.question,
            completed=int(snapshot.question is not None and snapshot.question.state.is_final),
            status=_question_status(snapshot.question),
        )
        for document in snapshot.documents:
            self._document_bar(document)

    def _document_bar(self, document: DocumentProgress) -> None:
        task = self._documents.get(document.id)
        if document.status == "embedding":
            if task is None:
                task = self.progress.add_task(f"  {document.name}", total=1, status="")
                self._documents[document.id] = task
            self.progress.update(
                task,
                total=max(document.fragments, 1),
                completed=document.embedded,
                status="fragments embedded",
            )
        elif task is not None:
            self.progress.remove_task(task)
            del self._documents[document.id]


@dataclass
class Timing:
    """Seconds from the first enqueue (perf_counter `started`): to every document final,
    and to the end of the demo (the question included)."""

    started: float
    documents_seconds: float | None = None
    wall_seconds: float = 0.0

    @property
    def pipeline_seconds(self) -> float:
        return self.documents_seconds or self.wall_seconds


def summary_table(snapshot: Snapshot, timing: Timing, model: str) -> Table:
    """Documents, fragments, embeddings, failures and throughput, all from the stores.
    Fragments/hour counts the document pipeline's time only (not the question's)."""
    jobs = len(snapshot.jobs)
    wall_seconds = timing.wall_seconds
    table = Table(title="Medley demo summary", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("documents", f"{len(snapshot.extract)}"),
        ("fragments", f"{snapshot.fragments}"),
        ("embeddings", f"{snapshot.embedded}"),
        ("failed documents", f"{snapshot.failed_documents}"),
        ("fragments/hour", f"{snapshot.embedded / timing.pipeline_seconds * 3600:,.0f}"),
        ("pipeline time", f"{timing.pipeline_seconds:.2f} s"),
        ("embedding model", model),
        ("jobs run", f"{jobs}"),
        ("succeeded", f"{snapshot.count(JobState.SUCCEEDED)}"),
        ("failed", f"{snapshot.count(JobState.FAILED, JobState.CANCELLED)}"),
        ("retried attempts", f"{snapshot.retried_attempts}"),
        ("wall time", f"{wall_seconds:.2f} s"),
        ("jobs/s", f"{jobs / wall_seconds:.1f}"),
    ]
    for metric, value in rows:
        table.add_row(metric, value)
    return table


def answers_table(question: str, answers: list[Answer]) -> Table:
    """The best fragments for the question, with their cosine similarity."""
    table = Table(title=f"Top {len(answers)} fragments for: {question}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document")
    table.add_column("fragment", ratio=1)
    for rank, answer in enumerate(answers, start=1):
        text = " ".join(answer.text.split())
        table.add_row(str(rank), f"{answer.score:.3f}", answer.document, text)
    return table
