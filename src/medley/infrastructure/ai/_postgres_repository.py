"""`FragmentRepository` on PostgreSQL: a small pool of its own on the job store's URL.

Similarity runs on the server with pgvector when migration 0005 could create it (the
`embedding_vector` column exists), else by scanning the bytea vectors in keyset pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

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
from medley.infrastructure.ai.vectors import pgvector_literal, top_k
from medley.infrastructure.jobs.storage.postgres._errors import map_errors

Q = sql.load("postgres")
POOL_MAX = 4
"""Embedding jobs write in short transactions; a few connections serve a busy worker."""


class PostgresFragmentRepository:
    """The PostgreSQL adapter; see `FragmentRepository` for each method's contract."""

    def __init__(self, conninfo: str, *, use_pgvector: bool = True) -> None:
        self.conninfo = conninfo
        self.pgvector = False
        self._want_pgvector = use_pgvector
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            connection_class=psycopg.AsyncConnection[DictRow],
            timeout=10,
        )

    async def open(self) -> None:
        with map_errors("connecting the AI repository"):
            await self._pool.open(wait=True, timeout=10)
        [row] = await self._fetch("pgvector_present", {})
        self.pgvector = self._want_pgvector and bool(row["present"])

    async def close(self) -> None:
        await self._pool.close()

    async def _fetch(self, name: LiteralString, params: dict[str, Any]) -> list[DictRow]:
        with map_errors(name):
            async with self._pool.connection() as conn:
                cur = await conn.execute(Q[name], params)
                return await cur.fetchall() if cur.description else []

    async def document_upsert(self, document: SourceDocument) -> DocumentRef:
        [row] = await self._fetch(
            "document_upsert",
            {
                "name": document.name,
                "source": document.source,
                "media_type": document.media_type,
                "content_hash": document.content_hash,
                "body": document.text,
            },
        )
        return DocumentRef(row["id"], row["status"], bool(row["existing"]))

    async def document_get(self, document_id: int) -> DocumentRow | None:
        rows = await self._fetch("document_get", {"id": document_id})
        if not rows:
            return None
        r = rows[0]
        return DocumentRow(
            r["id"], r["name"], r["source"], r["media_type"], r["status"],
            r["fragment_count"], r["chars"], r["error"],
        )  # fmt: skip

    async def document_body(self, document_id: int) -> str | None:
        rows = await self._fetch("document_body", {"id": document_id})
        return str(rows[0]["body"]) if rows else None

    async def document_set_status(
        self, document_id: int, status: str, error: str | None = None
    ) -> bool:
        params = {"id": document_id, "status": status, "error": error}
        return bool(await self._fetch("document_set_status", params))

    async def document_progress(self, ids: Sequence[int]) -> list[DocumentProgress]:
        rows = await self._fetch("document_progress", {"ids": list(ids)})
        return [
            DocumentProgress(r["id"], r["name"], r["status"], r["fragment_count"], r["embedded"])
            for r in rows
        ]

    async def stats(self) -> PipelineStats:
        [r] = await self._fetch("document_stats", {})
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
        with map_errors("storing fragments"):
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute(Q["fragment_delete_for_document"], doc)
                async with conn.cursor() as cur:
                    await cur.executemany(Q["fragment_insert"], rows)
                await conn.execute(Q["document_set_fragments"], doc)
                cur2 = await conn.execute(Q["fragment_ids_for_document"], doc)
                return [r["id"] for r in await cur2.fetchall()]

    async def fragment_get_many(self, ids: Sequence[int]) -> list[FragmentText]:
        rows = await self._fetch("fragment_get_many", {"ids": list(ids)})
        return [FragmentText(r["id"], r["body"], r["tokens"]) for r in rows]

    async def fragment_set_embeddings(
        self, model: str, vectors: Sequence[tuple[int, bytes]]
    ) -> None:
        name: LiteralString = "fragment_set_embedding"
        rows: list[dict[str, Any]] = [
            {"id": i, "model": model, "embedding": blob} for i, blob in vectors
        ]
        if self.pgvector:
            name = "fragment_set_embedding_pgvector"
            for row in rows:
                row["vector"] = pgvector_literal(row["embedding"])
        with map_errors("storing embeddings"):
            async with (
                self._pool.connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                await cur.executemany(Q[name], rows)

    async def fragment_count_pending(self, document_id: int) -> int:
        [row] = await self._fetch("fragment_count_pending", {"document_id": document_id})
        return int(row["pending"])

    async def fragment_similar(self, model: str, query: bytes, k: int) -> list[Hit]:
        if self.pgvector:
            params = {"model": model, "query": pgvector_literal(query), "k": k}
            best = [
                (r["id"], float(r["score"]))
                for r in await self._fetch("fragment_similar_pgvector", params)
            ]
        else:
            best = await self._scan(model, query, k)
        ids = [i for i, _ in best]
        by_id = {r["id"]: r for r in await self._fetch("fragment_hits", {"ids": ids})}
        return [hit(by_id[i], score) for i, score in best if i in by_id]

    async def _scan(self, model: str, query: bytes, k: int) -> list[tuple[int, float]]:
        best: list[tuple[int, float]] = []
        after = 0
        while True:
            page = await self._fetch(
                "fragment_scan", {"model": model, "after": after, "limit": SCAN_PAGE}
            )
            if not page:
                return best
            rows = [(int(r["id"]), bytes(r["embedding"])) for r in page]
            best = sorted([*best, *top_k(query, rows, k)], key=lambda p: -p[1])[:k]
            after = rows[-1][0]
