"""The AI repository on both backends: documents upserted by content, fragments replaced
per document, vectors stored and searched, progress and stats; both SQL files define the
same queries."""

from __future__ import annotations

import pytest

from medley.infrastructure.ai import sql
from medley.infrastructure.ai.documents import SourceDocument
from medley.infrastructure.ai.fragments import FragmentConfig, split_fragments
from medley.infrastructure.ai.repository import FragmentRepository
from medley.infrastructure.ai.vectors import normalized, pack

pytestmark = pytest.mark.contract

TEXT = "# Bees\n\nBees keep warm in winter.\n\n# Tides\n\nThe moon raises the tides."


def document(text: str = TEXT, name: str = "notes.md") -> SourceDocument:
    return SourceDocument(name=name, source=f"/docs/{name}", media_type="text/markdown", text=text)


@pytest.mark.unit
def test_both_dialects_define_the_same_queries() -> None:
    assert set(sql.load("postgres")) == set(sql.load("sqlite"))


async def test_upserting_the_same_content_twice_is_one_document(
    repository: FragmentRepository,
) -> None:
    first = await repository.document_upsert(document())
    again = await repository.document_upsert(document(name="copy.md"))

    assert (first.existing, again.existing) == (False, True)
    assert again.id == first.id
    row = await repository.document_get(first.id)
    assert row is not None
    assert (row.name, row.status, row.chars) == ("notes.md", "extracting", len(TEXT))
    assert await repository.document_body(first.id) == TEXT


async def test_fragment_replace_stores_offsets_and_replaces_an_earlier_extraction(
    repository: FragmentRepository,
) -> None:
    ref = await repository.document_upsert(document())
    fragments = split_fragments(TEXT)
    first_ids = await repository.fragment_replace(ref.id, fragments)

    ids = await repository.fragment_replace(ref.id, fragments)  # a retried extraction

    assert len(ids) == len(first_ids) == 2
    assert not set(ids) & set(first_ids)
    stored = await repository.fragment_get_many([*first_ids, *ids])
    assert [f.id for f in stored] == ids
    assert [f.text for f in stored] == [f.text for f in fragments]
    row = await repository.document_get(ref.id)
    assert row is not None
    assert (row.status, row.fragment_count) == ("embedding", 2)


async def test_embeddings_clear_pending_and_similarity_ranks_by_dot_product(
    repository: FragmentRepository,
) -> None:
    ref = await repository.document_upsert(document())
    bees, tides = await repository.fragment_replace(ref.id, split_fragments(TEXT))
    assert await repository.fragment_count_pending(ref.id) == 2

    await repository.fragment_set_embeddings(
        "test-model", [(bees, pack([1.0, 0.0, 0.0])), (tides, pack(normalized([0, 1, 1])))]
    )

    assert await repository.fragment_count_pending(ref.id) == 0
    hits = await repository.fragment_similar("test-model", pack(normalized([0, 1, 0])), 5)
    assert [h.fragment_id for h in hits] == [tides, bees]
    assert hits[0].score == pytest.approx(0.7071, abs=1e-4)
    assert hits[0].document == "notes.md"
    assert TEXT[hits[0].start : hits[0].end] == hits[0].text
    assert hits[0].section == "Tides"
    assert await repository.fragment_similar("other-model", pack([1.0, 0, 0]), 5) == []


async def test_similarity_pages_through_many_vectors(repository: FragmentRepository) -> None:
    text = "\n\n".join(f"Paragraph {i} about things." for i in range(60))
    ref = await repository.document_upsert(document(text, "many.txt"))
    ids = await repository.fragment_replace(
        ref.id, split_fragments(text, config=FragmentConfig(max_tokens=8, overlap_tokens=0))
    )
    vectors = [(i, pack(normalized([1.0, n / 100]))) for n, i in enumerate(ids)]
    await repository.fragment_set_embeddings("m", vectors)

    hits = await repository.fragment_similar("m", pack(normalized([0.0, 1.0])), 3)

    assert [h.fragment_id for h in hits] == ids[::-1][:3]


async def test_progress_and_stats_count_documents_fragments_and_embeddings(
    repository: FragmentRepository,
) -> None:
    ref = await repository.document_upsert(document())
    first, _ = await repository.fragment_replace(ref.id, split_fragments(TEXT))
    await repository.fragment_set_embeddings("m", [(first, pack([1.0]))])
    other = await repository.document_upsert(document("Other text.", "other.txt"))
    await repository.document_set_status(other.id, "failed", "boom")

    [progress] = await repository.document_progress([ref.id])
    stats = await repository.stats()

    assert (progress.fragments, progress.embedded, progress.status) == (2, 1, "embedding")
    assert (stats.documents, stats.ready, stats.failed) == (2, 0, 1)
    assert (stats.fragments, stats.embedded) == (2, 1)
    assert await repository.document_set_status(ref.id, "ready")
    assert not await repository.document_set_status(9999, "ready")
