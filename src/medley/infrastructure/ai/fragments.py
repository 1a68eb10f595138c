"""Structure-aware fragments: headings, paragraphs, sentences; bounded in model tokens,
overlapping, each with its offsets in the document's text. Pure (no I/O).

A fragment never crosses a heading: a heading opens a section, and its first fragment
starts at the heading line, so the heading is embedded with the text it introduces.
Paragraphs are packed whole while they fit; a longer one is cut at sentence ends, and a
sentence longer than a fragment at word boundaries. The next fragment of a section
repeats the previous one's last sentences (up to `overlap_tokens`), so that a statement
cut at a boundary is still found whole somewhere.

Every fragment is `text[start:end]` of the document's stored text, exactly: the offsets
are the contract that lets a user jump from a search hit to its source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

TokenCounter = Callable[[Sequence[str]], list[int]]
"""Tokens of each text, in order (the model's tokenizer, or `approximate_tokens`)."""

MAX_TOKENS_DEFAULT = 128
"""all-MiniLM-L6-v2 was trained on pieces of up to 128 tokens and truncates at 256."""
OVERLAP_TOKENS_DEFAULT = 16

_WORDPIECE = re.compile(r"\w+|[^\w\s]")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(\S.*?)[ \t#]*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+[\"')\]]*(?=\s)|$)", re.DOTALL)
_WORD = re.compile(r"\S+")


def approximate_tokens(texts: Sequence[str]) -> list[int]:
    """Words and punctuation marks: a WordPiece tokenizer splits text at least that finely,
    so a fragment bounded by this count stays near the bound without the model."""
    return [len(_WORDPIECE.findall(text)) for text in texts]


@dataclass(frozen=True, slots=True)
class FragmentConfig:
    """Bounds of a fragment in tokens. `overlap_tokens` must leave room for new text."""

    max_tokens: int = MAX_TOKENS_DEFAULT
    overlap_tokens: int = OVERLAP_TOKENS_DEFAULT

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if not 0 <= self.overlap_tokens <= self.max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and max_tokens / 2")


@dataclass(frozen=True, slots=True)
class Fragment:
    """One piece of a document: `text == document_text[start:end]`."""

    ordinal: int
    start: int
    end: int
    text: str
    tokens: int
    section: str | None
    """The heading of the section it belongs to (None before the first heading)."""


@dataclass(frozen=True, slots=True)
class _Unit:
    """The smallest piece packed into fragments: a paragraph, a sentence or a word run."""

    start: int
    end: int
    tokens: int
    section: int


def split_fragments(
    text: str, count_tokens: TokenCounter = approximate_tokens, config: FragmentConfig | None = None
) -> list[Fragment]:
    """Cut `text` into fragments of at most `config.max_tokens` tokens (a single word may
    exceed it), in reading order; see the module docstring for the rules."""
    config = config or FragmentConfig()
    headings: list[str | None] = [None]
    units: list[_Unit] = []
    for start, end, heading in _blocks(text):
        if heading is not None:
            headings.append(heading)
        units.extend(_units(text, start, end, len(headings) - 1, count_tokens, config.max_tokens))
    return [
        Fragment(i, s, e, text[s:e], tokens, headings[section])
        for i, (s, e, tokens, section) in enumerate(_pack(units, config))
    ]


def _blocks(text: str) -> Iterator[tuple[int, int, str | None]]:
    """(start, end, heading or None) of each heading line and paragraph, trimmed."""
    position = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        yield from _lines_as_blocks(text, position, end)
        position = match.end() if match else len(text)


def _lines_as_blocks(text: str, start: int, end: int) -> Iterator[tuple[int, int, str | None]]:
    """A paragraph's leading heading lines are blocks of their own."""
    while start < end:
        start, end = _trim(text, start, end)
        if start >= end:
            return
        newline = text.find("\n", start, end)
        line_end = end if newline < 0 else newline
        heading = _HEADING.match(text, start, line_end)
        if heading is None:
            yield start, end, None
            return
        yield start, line_end, heading.group(2)
        start = line_end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _units(
    text: str, start: int, end: int, section: int, count: TokenCounter, limit: int
) -> list[_Unit]:
    """The block whole if it fits, else its sentences, each cut into word runs if needed."""
    [tokens] = count([text[start:end]])
    if tokens <= limit:
        return [_Unit(start, end, tokens, section)]
    spans = [(m.start() + start, m.end() + start) for m in _SENTENCE.finditer(text[start:end])]
    sentence_tokens = count([text[s:e] for s, e in spans])
    units: list[_Unit] = []
    for (s, e), n in zip(spans, sentence_tokens, strict=True):
        if n <= limit:
            units.append(_Unit(s, e, n, section))
        else:
            units.extend(_word_runs(text, s, e, section, count, limit))
    return units


def _word_runs(
    text: str, start: int, end: int, section: int, count: TokenCounter, limit: int
) -> Iterator[_Unit]:
    """Greedy runs of whole words of at most `limit` tokens (a lone longer word stands alone)."""
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]
    sizes = count([text[s:e] for s, e in words])
    run_start, run_tokens, previous_end = words[0][0], 0, words[0][0]
    for (s, e), n in zip(words, sizes, strict=True):
        if run_tokens and run_tokens + n > limit:
            yield _Unit(run_start, previous_end, run_tokens, section)
            run_start, run_tokens = s, 0
        run_tokens += n
        previous_end = e
    yield _Unit(run_start, previous_end, run_tokens, section)


def _pack(units: list[_Unit], config: FragmentConfig) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, tokens, section) of each fragment: units packed greedily within a
    section; each new fragment of the same section opens with the previous one's tail."""
    current: list[_Unit] = []
    for unit in units:
        same_section = bool(current) and current[0].section == unit.section
        if current and (not same_section or _tokens(current) + unit.tokens > config.max_tokens):
            yield _span(current)
            current = _overlap(current, config, unit.tokens) if same_section else []
        current.append(unit)
    if current:
        yield _span(current)


def _overlap(previous: list[_Unit], config: FragmentConfig, incoming: int) -> list[_Unit]:
    """The last units of `previous` worth at most `overlap_tokens`, leaving room for the
    incoming unit, and never the whole of `previous` (that would repeat it)."""
    budget = min(config.overlap_tokens, config.max_tokens - incoming)
    tail: list[_Unit] = []
    for unit in reversed(previous[1:]):
        if _tokens(tail) + unit.tokens > budget:
            break
        tail.insert(0, unit)
    return tail


def _tokens(units: list[_Unit]) -> int:
    return sum(u.tokens for u in units)


def _span(units: list[_Unit]) -> tuple[int, int, int, int]:
    return units[0].start, units[-1].end, _tokens(units), units[0].section
