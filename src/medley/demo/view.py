"""What the demo prints: live progress bars fed from store snapshots, then a summary
table and the answers to the sample question."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def _document(info: JobInfo) -> str:
    return Path(str(info.args[0])).name if info.args else f"job {info.id}"


def _status(jobs: list[JobInfo]) -> str:
    running = sum(1 for j in jobs if j.state is JobState.PROCESSING)
    failed = sum(1 for j in jobs if j.state in (JobState.FAILED, JobState.CANCELLED))
    retrying = sum(1 for j in jobs if j.state is JobState.SCHEDULED)
    parts = [f"{running} running"] + [f"{retrying} retrying"] * bool(retrying)
    return ", ".join(parts + [f"[red]{failed} failed[/]"] * bool(failed))


def _question_status(info: JobInfo) -> str:
    if info.state is JobState.SUCCEEDED:
        retries = f" after {info.attempt - 1} retry" if info.attempt > 1 else ""
        return f"[green]embedded{retries}[/]"
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


class PipelineView:
    """Rich progress: one bar per stage and one per document being extracted."""

    def __init__(self, console: Console, documents: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(bar_width=32),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.extract = self.progress.add_task("extract", total=documents, status="")
        self.index = self.progress.add_task("index", total=None, status="")
        self.question = self.progress.add_task("question (flaky)", total=1, status="")
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
        p.update(
            self.extract,
            completed=sum(1 for j in snapshot.extract if j.state in FINAL_STATES),
            status=_status(snapshot.extract),
        )
        p.update(
            self.index,
            total=snapshot.batches or None,
            completed=sum(1 for j in snapshot.index if j.state in FINAL_STATES),
            status=_status(snapshot.index),
        )
        p.update(
            self.question,
            completed=int(snapshot.question.state in FINAL_STATES),
            status=_question_status(snapshot.question),
        )
        for info in snapshot.extract:
            self._document_bar(info)

    def _document_bar(self, info: JobInfo) -> None:
        task = self._documents.get(info.id)
        if info.state is JobState.PROCESSING:
            if task is None:
                task = self.progress.add_task(f"  {_document(info)}", total=1.0, status="")
                self._documents[info.id] = task
            self.progress.update(
                task, completed=info.progress.fraction, status=info.progress.message or ""
            )
        elif task is not None and info.state in FINAL_STATES:
            self.progress.remove_task(task)
            del self._documents[info.id]


def summary_table(snapshot: Snapshot, wall_seconds: float) -> Table:
    """Jobs, outcomes, retries, fragments and throughput, all from the stored jobs."""
    jobs = len(snapshot.jobs)
    fragments = snapshot.fragments
    table = Table(title="Medley demo summary", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("jobs run", f"{jobs}"),
        ("succeeded", f"{snapshot.count(JobState.SUCCEEDED)}"),
        ("failed", f"{snapshot.count(JobState.FAILED, JobState.CANCELLED)}"),
        ("retried attempts", f"{snapshot.retried_attempts}"),
        ("documents", f"{len(snapshot.extract)}"),
        ("fragments", f"{fragments}"),
        ("fragments/hour", f"{fragments / wall_seconds * 3600:,.0f}"),
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
