"""Where the AI pipeline keeps documents, fragments and vectors: one port, two adapters.

The repository opens its own connection from the job store's URL (same database, same
migrations: 0005_ai), so AI rows and jobs live side by side, but the engine's hot path
never waits on fragment writes. SQL lives in `sql/postgres.sql` and `sql/sqlite.sql`,
loaded by name; adapters translate driver errors into the MedleyError tree at the
boundary, as the job stores do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from medley.application.errors import InvalidDatabaseUrlError
from medley.infrastructure.ai.documents import SourceDocument
from medley.infrastructure.ai.fragments import Fragment
from medley.infrastructure.jobs.storage.factory import (
    POSTGRES_PREFIXES,
    SQLITE_PREFIX,
    sqlite_path,
)

SCAN_PAGE = 2000
"""Vectors read per query while scanning for similarity without pgvector."""


@dataclass(frozen=True, slots=True)
class DocumentRef:
    id: int
    status: str
    existing: bool
    """True when the content was already stored (a retried or repeated ingest)."""


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    name: str
    source: str
    media_type: str
    status: str
    fragment_count: int
    chars: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DocumentProgress:
    """How far one document is: fragments stored and fragments embedded."""

    id: int
    name: str
    status: str
    fragments: int
    embedded: int


@dataclass(frozen=True, slots=True)
class FragmentText:
    id: int
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A fragment found by a similarity query, with where it sits in its document."""

    fragment_id: int
    score: float
    document_id: int
    document: str
    ordinal: int
    start: int
    end: int
    section: str | None
    text: str


def hit(row: Mapping[str, Any], score: float) -> Hit:
    """A `Hit` from a `fragment_hits` row (either backend's) and its score."""
    return Hit(
        fragment_id=row["id"],
        score=score,
        document_id=row["document_id"],
        document=row["document"],
        ordinal=row["ordinal"],
        start=row["start_offset"],
        end=row["end_offset"],
        section=row["section"],
        text=row["body"],
    )


@dataclass(frozen=True, slots=True)
class PipelineStats:
    documents: int
    ready: int
    failed: int
    fragments: int
    embedded: int


class FragmentRepository(Protocol):
    """Documents, fragments and vectors. Safe to share across tasks of one event loop.
    Writes that a retried job repeats are idempotent (upsert by content, replace by
    document, set by id), which is what at-least-once delivery needs."""

    pgvector: bool
    """True when similarity runs on the server (PostgreSQL with pgvector)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def document_upsert(self, document: SourceDocument) -> DocumentRef:
        """Store a document, or find it by content hash if it is already stored."""
        ...

    async def document_get(self, document_id: int) -> DocumentRow | None: ...

    async def document_body(self, document_id: int) -> str | None: ...

    async def document_set_status(
        self, document_id: int, status: str, error: str | None = None
    ) -> bool:
        """Set `extracting|embedding|ready|failed`; False if the document is gone."""
        ...

    async def document_progress(self, ids: Sequence[int]) -> list[DocumentProgress]: ...

    async def stats(self) -> PipelineStats: ...

    async def fragment_replace(self, document_id: int, fragments: Sequence[Fragment]) -> list[int]:
        """Replace the document's fragments (one transaction) and mark it `embedding`;
        returns the new fragment ids in reading order."""
        ...

    async def fragment_get_many(self, ids: Sequence[int]) -> list[FragmentText]:
        """The texts of the fragments that still exist, by id (missing ids are skipped)."""
        ...

    async def fragment_set_embeddings(
        self, model: str, vectors: Sequence[tuple[int, bytes]]
    ) -> None:
        """Store packed vectors by fragment id, in one transaction."""
        ...

    async def fragment_count_pending(self, document_id: int) -> int:
        """Fragments of the document without a vector yet."""
        ...

    async def fragment_similar(self, model: str, query: bytes, k: int) -> list[Hit]:
        """The `k` fragments embedded by `model` closest to `query`, best first."""
        ...


def create_repository(url: str) -> FragmentRepository:
    """An unopened repository for the job store's URL."""
    if url.startswith(SQLITE_PREFIX):
        from medley.infrastructure.ai._sqlite_repository import SqliteFragmentRepository

        return SqliteFragmentRepository(sqlite_path(url))
    if url.startswith(POSTGRES_PREFIXES):
        from medley.infrastructure.ai._postgres_repository import PostgresFragmentRepository

        return PostgresFragmentRepository(url)
    raise InvalidDatabaseUrlError(url)
