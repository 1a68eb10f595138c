"""Vectors as stored: unit-length float32, little-endian, packed into bytes.

One representation for every backend and model: a BLOB/bytea column holds it, pgvector
gets a text copy, and similarity is a dot product. numpy speeds up the scan when the ai
extra is installed; the pure-Python path serves the hashed fallback without it.
"""

from __future__ import annotations

import heapq
import math
import sys
from array import array
from collections.abc import Iterable, Sequence

_NATIVE_LITTLE = sys.byteorder == "little"


def pack(values: Sequence[float]) -> bytes:
    """float32 little-endian bytes of `values`."""
    packed = array("f", values)
    if not _NATIVE_LITTLE:
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes) -> array[float]:
    """The float32 values of a packed vector."""
    values = array("f")
    values.frombytes(blob)
    if not _NATIVE_LITTLE:
        values.byteswap()
    return values


def normalized(values: Sequence[float]) -> list[float]:
    """`values` scaled to unit length (all zeros stay zeros)."""
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm else [0.0] * len(values)


def pgvector_literal(blob: bytes) -> str:
    """pgvector's text input form, '[x,y,...]', with float32 round-trip precision."""
    return "[" + ",".join(f"{v:.9g}" for v in unpack(blob)) + "]"


def top_k(query: bytes, rows: Iterable[tuple[int, bytes]], k: int) -> list[tuple[int, float]]:
    """The `k` (id, score) pairs of `rows` with the highest dot product with `query`
    (= cosine similarity for unit vectors), best first. Rows of another width are skipped."""
    try:
        import numpy as np
    except ImportError:
        return _top_k_python(query, rows, k)
    ids: list[int] = []
    blobs: list[bytes] = []
    for row_id, blob in rows:
        if len(blob) == len(query):
            ids.append(row_id)
            blobs.append(blob)
    if not ids:
        return []
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), -1)
    scores = matrix @ np.frombuffer(query, dtype="<f4")
    best = np.argsort(-scores, kind="stable")[:k]
    return [(ids[i], float(scores[i])) for i in best]


def _top_k_python(
    query: bytes, rows: Iterable[tuple[int, bytes]], k: int
) -> list[tuple[int, float]]:
    q = unpack(query)
    scored = (
        (sum(a * b for a, b in zip(q, unpack(blob), strict=True)), row_id)
        for row_id, blob in rows
        if len(blob) == len(query)
    )
    return [(row_id, score) for score, row_id in heapq.nlargest(k, scored)]
