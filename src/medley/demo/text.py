"""Pure text processing for the demo pipeline: structure-aware fragments, term statistics,
hashed bag-of-words vectors, cosine similarity. No I/O, so every piece is unit-testable."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

FRAGMENT_CHARS = 400
"""Upper bound on a fragment's length (a single word longer than this is cut)."""
OVERLAP_CHARS = 80
"""At most this much of a fragment's tail opens the next fragment of the same section."""
VECTOR_DIMS = 256
"""Width of the hashed bag-of-words vectors."""

_SEPARATORS = {False: " ", True: "\n"}
"""Between pieces of one fragment: a heading keeps a line of its own."""
_HEADING = re.compile(r"^#{1,6}\s+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
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
"""Words too common to tell fragments apart."""

SparseVector = list[tuple[int, float]]
"""A unit-length vector as (dimension, weight) pairs, dimensions ascending, zeros left out."""


class FragmentStats(TypedDict):
    """What `demo.index_fragments` stores for each fragment."""

    text: str
    tokens: int
    terms: int
    top_terms: list[str]
    vector: SparseVector


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (or heading line) and the section it belongs to."""

    section: int
    text: str
    is_heading: bool = False


def blocks(text: str) -> list[Block]:
    """Headings and paragraphs in reading order; each heading opens a new section."""
    found: list[Block] = []
    section = 0
    for raw in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line.strip() for line in raw.strip().splitlines() if line.strip()]
        while lines and _HEADING.match(lines[0]):
            section += 1
            found.append(Block(section, lines.pop(0).lstrip("#").strip(), is_heading=True))
        if lines:
            found.append(Block(section, " ".join(lines)))
    return found


def _pieces(paragraph: str, limit: int) -> Iterator[str]:
    """The paragraph whole if it fits, else its sentences, else words cut to fit."""
    if len(paragraph) <= limit:
        yield paragraph
        return
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def _tail(fragment: str, limit: int) -> str:
    """The end of `fragment` to repeat at the start of the next one: its last sentence if
    short enough, else whole words up to `limit` characters."""
    last = _SENTENCE_END.split(fragment)[-1]
    if len(last) <= limit and last != fragment:
        return last
    words = fragment[-limit:].split(" ", 1)
    return words[1] if len(words) == 2 else ""


def split_fragments(
    text: str, max_chars: int = FRAGMENT_CHARS, overlap: int = OVERLAP_CHARS
) -> list[str]:
    """Cut a document into fragments of at most `max_chars`, never across a heading.

    Paragraphs are packed whole where they fit; a longer one is split at sentence ends
    (then at spaces). A fragment continuing a section opens with a short overlap (the tail
    of the previous one) so that a sentence split at a boundary is still found whole.
    A heading stays with the text that follows it.
    """
    if overlap >= max_chars // 2:
        raise ValueError("overlap must be less than half of max_chars")
    fragments: list[str] = []
    current, section, after_heading = "", -1, False
    for block in blocks(text):
        if block.section != section:
            if current:
                fragments.append(current)
            current, section = "", block.section
        for piece in _pieces(block.text, max_chars - overlap - 1):
            joined = f"{current}{_SEPARATORS[after_heading]}{piece}" if current else piece
            if len(joined) <= max_chars:
                current = joined
            else:
                fragments.append(current)
                tail = _tail(current, overlap)
                current = f"{tail} {piece}" if tail else piece
            after_heading = block.is_heading
    if current:
        fragments.append(current)
    return fragments


_SUFFIXES = ("ing", "ed", "s")


def stem(word: str) -> str:
    """A deliberately light stemmer (keepers -> keeper, burning -> burn): enough for the
    demo's word overlap without a linguistic dependency."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case, lightly stemmed word tokens without stopwords or one-letter words."""
    words = _TOKEN.findall(text.lower())
    return [stem(t) for t in words if len(t) > 1 and t not in STOPWORDS]


def _bucket(term: str, dims: int) -> tuple[int, float]:
    """Stable across processes (unlike `hash()`): a dimension and a sign for `term`."""
    digest = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "big")
    return digest % dims, 1.0 if digest >> 63 else -1.0


def hashed_vector(terms: Counter[str], dims: int = VECTOR_DIMS) -> SparseVector:
    """Signed feature hashing of sublinear term frequencies (1 + log tf), unit length."""
    dense = [0.0] * dims
    for term, count in terms.items():
        index, sign = _bucket(term, dims)
        dense[index] += sign * (1.0 + math.log(count))
    norm = math.sqrt(sum(w * w for w in dense))
    if norm == 0.0:
        return []
    return [(i, round(w / norm, 6)) for i, w in enumerate(dense) if w]


def term_statistics(fragment: str, top: int = 5) -> FragmentStats:
    """Token count, distinct terms, the most frequent terms and the hashed vector."""
    counts = Counter(tokens(fragment))
    return {
        "text": fragment,
        "tokens": sum(counts.values()),
        "terms": len(counts),
        "top_terms": [term for term, _ in counts.most_common(top)],
        "vector": hashed_vector(counts),
    }


def cosine(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    """Cosine similarity of two sparse vectors (pairs as stored in JSON: lists of two)."""
    weights = {int(i): w for i, w in a}
    dot = sum(weights.get(int(i), 0.0) * w for i, w in b)
    norm_a = math.sqrt(sum(w * w for _, w in a))
    norm_b = math.sqrt(sum(w * w for _, w in b))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0
