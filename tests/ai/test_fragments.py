"""Fragment extraction: structure-aware, token-bounded, overlapping, exact offsets."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from medley.infrastructure.ai.fragments import (
    FragmentConfig,
    approximate_tokens,
    split_fragments,
)

pytestmark = pytest.mark.unit

DOCUMENT = """# Tides

The sea rises twice a day. High water comes later each day, by about fifty minutes.

The moon pulls the near side of the earth harder than the far side. That difference
raises two bulges of water. The earth turns beneath them.

## Spring tides

When sun and moon line up, their pulls add up. Such tides are called spring tides.
"""


def test_every_fragment_is_the_exact_slice_of_the_document_at_its_offsets() -> None:
    fragments = split_fragments(DOCUMENT, config=FragmentConfig(max_tokens=20, overlap_tokens=6))

    assert len(fragments) > 3
    for fragment in fragments:
        assert DOCUMENT[fragment.start : fragment.end] == fragment.text
    assert [f.ordinal for f in fragments] == list(range(len(fragments)))


def test_fragments_stay_within_the_token_bound() -> None:
    config = FragmentConfig(max_tokens=20, overlap_tokens=6)

    fragments = split_fragments(DOCUMENT, config=config)

    for fragment in fragments:
        assert fragment.tokens == approximate_tokens([fragment.text])[0]
        assert fragment.tokens <= config.max_tokens


def test_a_fragment_never_crosses_a_heading_and_starts_at_its_section_heading() -> None:
    fragments = split_fragments(DOCUMENT, config=FragmentConfig(max_tokens=40, overlap_tokens=8))

    spring = [f for f in fragments if f.section == "Spring tides"]
    assert spring
    assert spring[0].text.startswith("## Spring tides")
    assert all("Spring" not in f.text for f in fragments if f.section == "Tides")


def test_a_document_that_fits_is_one_fragment_per_section() -> None:
    fragments = split_fragments(DOCUMENT, config=FragmentConfig(max_tokens=500, overlap_tokens=0))

    assert [f.section for f in fragments] == ["Tides", "Spring tides"]


def test_consecutive_fragments_of_a_section_overlap_by_whole_sentences() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(30))

    fragments = split_fragments(text, config=FragmentConfig(max_tokens=24, overlap_tokens=6))

    assert len(fragments) > 2
    for first, second in itertools.pairwise(fragments):
        assert second.start < first.end, "the next fragment repeats the previous one's tail"
        assert text[second.start : first.end].endswith(".")


def test_a_sentence_longer_than_a_fragment_is_cut_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(100))

    fragments = split_fragments(text, config=FragmentConfig(max_tokens=16, overlap_tokens=0))

    assert len(fragments) > 5
    assert " ".join(f.text for f in fragments) == text
    assert all(f.tokens <= 16 for f in fragments)


def test_the_token_counter_decides_the_bound() -> None:
    def four_per_word(texts: Sequence[str]) -> list[int]:  # a tokenizer that splits finely
        return [4 * len(t.split()) for t in texts]

    coarse = split_fragments(DOCUMENT, config=FragmentConfig(max_tokens=40, overlap_tokens=0))
    fine = split_fragments(DOCUMENT, four_per_word, FragmentConfig(max_tokens=40, overlap_tokens=0))

    assert len(fine) > len(coarse)
    assert all(f.tokens <= 40 for f in fine)


def test_empty_and_blank_documents_have_no_fragments() -> None:
    assert split_fragments("") == []
    assert split_fragments(" \n\n \t\n") == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(4, 0), (100, 51), (100, -1)])
def test_invalid_bounds_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="tokens"):
        FragmentConfig(max_tokens=max_tokens, overlap_tokens=overlap)
