"""The fallback embedder: signed feature hashing of light-stemmed words, pure Python.

Used when the ai extra (numpy, tokenizers, the model weights) is not installed, so the
pipeline, the demo and the tests run on a bare machine. It finds fragments that share
words with the query, nothing more; `load_embedder` says when it is in use.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

from medley.infrastructure.ai.fragments import approximate_tokens
from medley.infrastructure.ai.vectors import pack

HASHED_DIMENSIONS = 256
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORD_TEXT = """
a about above after again all also an and any are as at be been before being but by can
could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now
of off on once only or other our ours out over own same she should so some such than
that the their them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SUFFIXES = ("ing", "ed", "s")


def stem(word: str) -> str:
    """A deliberately light stemmer (keepers -> keeper, burning -> burn)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> Counter[str]:
    """Lower-case, stemmed words without stopwords or one-letter words."""
    words = _TOKEN.findall(text.lower())
    return Counter(stem(t) for t in words if len(t) > 1 and t not in STOPWORDS)


def _bucket(term: str, dims: int) -> tuple[int, float]:
    """Stable across processes (unlike `hash()`): a dimension and a sign for `term`."""
    digest = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "big")
    return digest % dims, 1.0 if digest >> 63 else -1.0


def hashed_vector(text: str, dims: int = HASHED_DIMENSIONS) -> list[float]:
    """Sublinear term frequencies (1 + log tf), hashed into `dims` signed buckets, unit length."""
    dense = [0.0] * dims
    for term, count in terms(text).items():
        index, sign = _bucket(term, dims)
        dense[index] += sign * (1.0 + math.log(count))
    norm = math.sqrt(sum(w * w for w in dense))
    return [w / norm for w in dense] if norm else dense


class HashingEmbedder:
    """The `Embedder` of last resort: no dependencies, instant, lexical only."""

    name = f"hashed-bow-{HASHED_DIMENSIONS}"
    dimensions = HASHED_DIMENSIONS

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return approximate_tokens(texts)

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        return [pack(hashed_vector(text)) for text in texts]
