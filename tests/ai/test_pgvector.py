"""The pgvector path of the PostgreSQL repository, against a stand-in: this machine's
server has no pgvector (migration 0005 then skips it), so the test gives one database a
`vector` domain over text and a `<=>` cosine-distance operator written in SQL — the
extension's interface for what the repository uses — and checks that the repository
detects the column, writes the vector copies and lets the server rank."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from medley.infrastructure.ai._postgres_repository import PostgresFragmentRepository
from medley.infrastructure.ai.documents import SourceDocument
from medley.infrastructure.ai.fragments import split_fragments
from medley.infrastructure.ai.vectors import normalized, pack
from medley.infrastructure.services.connect import open_store

pytestmark = [pytest.mark.contract, pytest.mark.postgres]

STAND_IN = """
CREATE DOMAIN vector AS text;
CREATE FUNCTION stand_in_cosine_distance(a text, b text) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT 1 - sum(x * y) FROM unnest(
        string_to_array(trim(both '[]' from a), ',')::float8[],
        string_to_array(trim(both '[]' from b), ',')::float8[]) AS t(x, y)
$$;
CREATE OPERATOR <=> (LEFTARG = text, RIGHTARG = text, FUNCTION = stand_in_cosine_distance);
ALTER TABLE medley_fragment ADD COLUMN embedding_vector vector;
"""
TEXT = "# Bees\n\nBees keep warm in winter.\n\n# Tides\n\nThe moon raises the tides."


@pytest.fixture
async def pg_repository(pg_url: str) -> AsyncIterator[PostgresFragmentRepository]:
    store = await open_store(pg_url, auto_migrate=True)
    await store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(STAND_IN)
    repository = PostgresFragmentRepository(pg_url)
    await repository.open()
    yield repository
    await repository.close()


async def test_with_pgvector_the_server_ranks_the_fragments(
    pg_repository: PostgresFragmentRepository, pg_url: str
) -> None:
    assert pg_repository.pgvector
    document = SourceDocument("notes.md", "/notes.md", "text/markdown", TEXT)
    ref = await pg_repository.document_upsert(document)
    bees, tides = await pg_repository.fragment_replace(ref.id, split_fragments(TEXT))
    await pg_repository.fragment_set_embeddings(
        "m", [(bees, pack([1.0, 0.0, 0.0])), (tides, pack(normalized([0, 1, 1])))]
    )

    hits = await pg_repository.fragment_similar("m", pack(normalized([0, 1, 0])), 2)

    assert [h.fragment_id for h in hits] == [tides, bees]
    assert hits[0].score == pytest.approx(0.7071, abs=1e-4)
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute(
            "SELECT embedding_vector FROM medley_fragment WHERE id = %s", (bees,)
        ).fetchone()
    assert stored == ("[1,0,0]",)


async def test_without_the_column_the_repository_scans(pg_url: str) -> None:
    store = await open_store(pg_url, auto_migrate=True)
    await store.close()
    repository = PostgresFragmentRepository(pg_url)
    await repository.open()
    try:
        assert not repository.pgvector
    finally:
        await repository.close()
