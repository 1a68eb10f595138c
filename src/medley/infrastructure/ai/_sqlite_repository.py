"""`FragmentRepository` on the SQLite file the job store uses.

One connection on one thread of its own (sqlite3 connections are not for concurrent
use), WAL mode and the job store's busy timeout, so that fragment writes and the
engine's writes take turns on the file's write lock instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from medley.application.errors import StorageError
from medley.infrastructure.ai import sql
from medley.infrastructure.ai.documents import SourceDocument
from medley.infrastructure.ai.fragments import Fragment
from medley.infrastructure.ai.repository import (
    SCAN_PAGE,
    DocumentProgress,
    DocumentRef,
    DocumentRow,
    FragmentText,
    Hit,
    PipelineStats,
    hit,
)
from medley.infrastructure.ai.vectors import top_k
from medley.infrastructure.jobs.storage.sqlite._errors import map_errors
from medley.infrastructure.jobs.storage.sqlite._sql import connect, execute, transaction

Q = sql.load("sqlite")
T = TypeVar("T")


def _rows(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> list[sqlite3.Row]:
    return execute(conn, Q[name], params).fetchall()


class SqliteFragmentRepository:
    """The SQLite adapter; see `FragmentRepository` for each method's contract."""

    pgvector = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._conn is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="medley-ai-sqlite")
            self._conn = await self._call(f"opening {self.path}", lambda _: connect(self.path))

    async def close(self) -> None:
        executor, conn = self._executor, self._conn
        self._executor = self._conn = None
        if executor is not None:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(executor, conn.close)
            executor.shutdown(wait=False)

    async def _call(self, doing: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None:
            raise StorageError("the AI repository is not open")

        def guarded() -> T:
            with map_errors(doing):
                return fn(self._conn)  # type: ignore[arg-type]  # None only while opening

        return await asyncio.get_running_loop().run_in_executor(self._executor, guarded)

    async def document_upsert(self, document: SourceDocument) -> DocumentRef:
        params = {
            "name": document.name,
            "source": document.source,
            "media_type": document.media_type,
            "content_hash": document.content_hash,
            "body": document.text,
            "now": time.time(),
        }

        def upsert(conn: sqlite3.Connection) -> DocumentRef:
            with transaction(conn):
                [row] = _rows(conn, "document_upsert", params)
            return DocumentRef(row["id"], row["status"], bool(row["existing"]))

        return await self._call("storing a document", upsert)

    async def document_get(self, document_id: int) -> DocumentRow | None:
        rows = await self._call(
            "reading a document", lambda c: _rows(c, "document_get", {"id": document_id})
        )
        if not rows:
            return None
        r = rows[0]
        return DocumentRow(
            r["id"], r["name"], r["source"], r["media_type"], r["status"],
            r["fragment_count"], r["chars"], r["error"],
        )  # fmt: skip

    async def document_body(self, document_id: int) -> str | None:
        rows = await self._call(
            "reading a document", lambda c: _rows(c, "document_body", {"id": document_id})
        )
        return str(rows[0]["body"]) if rows else None

    async def document_set_status(
        self, document_id: int, status: str, error: str | None = None
    ) -> bool:
        params = {"id": document_id, "status": status, "error": error, "now": time.time()}

        def update(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                return bool(_rows(conn, "document_set_status", params))

        return await self._call("updating a document", update)

    async def document_progress(self, ids: Sequence[int]) -> list[DocumentProgress]:
        rows = await self._call(
            "reading progress",
            lambda c: _rows(c, "document_progress", {"ids": json.dumps(list(ids))}),
        )
        return [
            DocumentProgress(r["id"], r["name"], r["status"], r["fragment_count"], r["embedded"])
            for r in rows
        ]

    async def stats(self) -> PipelineStats:
        [r] = await self._call("counting documents", lambda c: _rows(c, "document_stats", {}))
        return PipelineStats(r["documents"], r["ready"], r["failed"], r["fragments"], r["embedded"])

    async def fragment_replace(self, document_id: int, fragments: Sequence[Fragment]) -> list[int]:
        rows = [
            {
                "document_id": document_id, "ordinal": f.ordinal, "start": f.start,
                "end": f.end, "tokens": f.tokens, "section": f.section, "body": f.text,
            }
            for f in fragments
        ]  # fmt: skip
        doc = {"document_id": document_id, "id": document_id, "count": len(rows)}

        def replace(conn: sqlite3.Connection) -> list[int]:
            with transaction(conn):
                execute(conn, Q["fragment_delete_for_document"], doc)
                conn.executemany(Q["fragment_insert"], rows)
                execute(conn, Q["document_set_fragments"], {**doc, "now": time.time()})
                return [r["id"] for r in _rows(conn, "fragment_ids_for_document", doc)]

        return await self._call("storing fragments", replace)

    async def fragment_get_many(self, ids: Sequence[int]) -> list[FragmentText]:
        rows = await self._call(
            "reading fragments",
            lambda c: _rows(c, "fragment_get_many", {"ids": json.dumps(list(ids))}),
        )
        return [FragmentText(r["id"], r["body"], r["tokens"]) for r in rows]

    async def fragment_set_embeddings(
        self, model: str, vectors: Sequence[tuple[int, bytes]]
    ) -> None:
        now = time.time()
        rows = [{"id": i, "model": model, "embedding": blob, "now": now} for i, blob in vectors]

        def store(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(Q["fragment_set_embedding"], rows)

        await self._call("storing embeddings", store)

    async def fragment_count_pending(self, document_id: int) -> int:
        [row] = await self._call(
            "counting fragments",
            lambda c: _rows(c, "fragment_count_pending", {"document_id": document_id}),
        )
        return int(row["pending"])

    async def fragment_similar(self, model: str, query: bytes, k: int) -> list[Hit]:
        def scan(conn: sqlite3.Connection) -> list[Hit]:
            best: list[tuple[int, float]] = []
            after = 0
            while True:
                page = _rows(
                    conn, "fragment_scan", {"model": model, "after": after, "limit": SCAN_PAGE}
                )
                if not page:
                    break
                rows = [(int(r["id"]), bytes(r["embedding"])) for r in page]
                best = sorted([*best, *top_k(query, rows, k)], key=lambda p: -p[1])[:k]
                after = rows[-1][0]
            return _hits(conn, best)

        return await self._call("searching fragments", scan)


def _hits(conn: sqlite3.Connection, best: list[tuple[int, float]]) -> list[Hit]:
    found = _rows(conn, "fragment_hits", {"ids": json.dumps([i for i, _ in best])})
    by_id = {r["id"]: dict(r) for r in found}
    return [hit(by_id[i], score) for i, score in best if i in by_id]
