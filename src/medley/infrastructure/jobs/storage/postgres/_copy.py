"""The text a bulk enqueue's COPY sends: the columns a batch has values for, and its rows.

COPY text is built in Python and written in chunks: psycopg's `write_row` cost more per job
than the database's share of the COPY. A column that no job of the batch sets (keyword
arguments, a run time, a timeout, tags, meta) is left out, to its default: the server
parses one value fewer per job (~0.1 us each, ~10% of its share together).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

from medley.infrastructure.jobs.limits import META_LIMIT, META_LIMIT_KEY
from medley.infrastructure.jobs.storage.port import JobInsertParams, UniformInserts, shared_rows

COPY_CHUNK = 250
"""Rows per `write` of a COPY: bounds the text held in memory for a huge batch, and the
server inserts one chunk while the next is formatted (1,000 jobs: ~8% faster than one
write of 1,000)."""
FIRST_CHUNK = 64
"""Rows of the first write, which the server waits for (250: ~2% slower per batch)."""

COPY_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_value(text: str) -> str:
    """A value in COPY's text format: backslash, newline, CR and tab escaped."""
    return text.translate(_ESCAPES)


def copy_json(text: str) -> str:
    """A JSON text in COPY's text format. JSON has no raw newline, CR or tab (they are
    escaped inside strings, with a backslash): only a text with a backslash needs work."""
    return text.translate(_ESCAPES) if "\\" in text else text


def tags_json(tags: Sequence[str]) -> str:
    return json.dumps(list(tags)) if tags else "[]"


def meta_json(meta: dict[str, Any]) -> str:
    return json.dumps(meta) if meta else "{}"


def _copy_meta(meta: dict[str, Any]) -> str:
    """The meta column and the limit columns derived from it (migration 0011: as the other
    inserts derive them, `meta ->> 'limit'` and `coalesce(meta ->> 'limit_key', '')`)."""
    name, key = meta.get(META_LIMIT), meta.get(META_LIMIT_KEY)
    return (
        f"{copy_json(meta_json(meta))}\t{COPY_NULL if name is None else _json_text(name)}"
        f"\t{'' if key is None else _json_text(key)}"
    )


def _json_text(value: Any) -> str:
    """`->>`'s text of a JSON value (not null), in COPY's text format."""
    return copy_value(value if isinstance(value, str) else json.dumps(value))


@dataclass(frozen=True, slots=True)
class CopyLayout:
    """Which of the optional columns a batch sends, after the ones every job has values
    for (job_copy names them in this order)."""

    kwargs: bool
    run_at: bool
    timeout: bool
    tags: bool
    meta: bool

    @classmethod
    def of(cls, params: Sequence[JobInsertParams]) -> CopyLayout:
        """The columns some job of `params` sets; a uniform batch's rows set what its first
        sets, but for a meta that may vary (built later, so sent whenever it may)."""
        rows = shared_rows(params)
        return cls(
            kwargs=any(p.payload_json[1] != "{}" for p in rows),
            run_at=any(p.run_at is not None for p in rows),
            timeout=any(p.timeout_seconds is not None for p in rows),
            tags=any(p.tags for p in rows),
            meta=any(p.meta for p in rows)
            or (isinstance(params, UniformInserts) and params.meta_varies),
        )

    @property
    def columns(self) -> LiteralString:
        """The optional columns' names, each with a leading comma."""
        names: list[LiteralString] = []
        if self.kwargs:
            names.append(", kwargs")
        if self.run_at:
            names.append(", run_at")
        if self.timeout:
            names.append(", timeout_seconds")
        if self.tags:
            names.append(", tags")
        if self.meta:
            names.append(", meta, limit_name, limit_key")
        return "".join(names)

    def shared(self, p: JobInsertParams, now: str, tags: str | None = None) -> str:
        """`p`'s optional columns but meta, as COPY text with a tab before each; `tags`:
        its tags' text, if the caller has it already."""
        parts = []
        if self.kwargs:
            parts.append(copy_json(p.payload_json[1]))
        if self.run_at:
            parts.append(now if p.run_at is None else copy_value(p.run_at.isoformat()))
        if self.timeout:
            parts.append(COPY_NULL if p.timeout_seconds is None else repr(float(p.timeout_seconds)))
        if self.tags:
            parts.append(copy_json(tags_json(p.tags)) if tags is None else tags)
        return "".join(f"\t{part}" for part in parts)


def chunks(total: int) -> Iterator[tuple[int, int]]:
    """The (start, stop) of each write of a COPY of `total` rows."""
    start = 0
    stop = min(FIRST_CHUNK, total)
    while start < total:
        yield start, stop
        start, stop = stop, min(stop + COPY_CHUNK, total)


def copy_jobs(
    layout: CopyLayout,
    ids: Sequence[int],
    params: Sequence[JobInsertParams],
    start: int,
    stop: int,
    now: str,
) -> str:
    """Rows `start`..`stop` of job_copy, as COPY text. `now` is the transaction's clock
    (a row without a run time runs from then)."""
    ids = ids[start:stop]
    if isinstance(params, UniformInserts):
        return _copy_uniform(layout, ids, params, start, stop, now)
    rows = params[start:stop]
    texts: dict[str, str] = {}  # names and queues, each escaped once
    encoded: dict[int, str] = {}  # tags and meta objects, by identity (alive meanwhile)
    lines: list[str] = []
    for job_id, p in zip(ids, rows, strict=True):
        job = texts.get(p.job) or texts.setdefault(p.job, copy_value(p.job))
        queue = texts.get(p.queue) or texts.setdefault(p.queue, copy_value(p.queue))
        tags = None
        if layout.tags:
            tags = encoded.get(id(p.tags)) or encoded.setdefault(
                id(p.tags), copy_json(tags_json(p.tags))
            )
        meta = ""
        if layout.meta:
            meta = encoded.get(id(p.meta)) or encoded.setdefault(
                id(p.meta), f"\t{_copy_meta(p.meta)}"
            )
        lines.append(
            f"{job_id}\t{job}\t{queue}\t{p.priority}\t{p.state.value}\t"
            f"{copy_json(p.payload_json[0])}\t{p.max_attempts}{layout.shared(p, now, tags)}"
            f"{meta}\n"
        )
    return "".join(lines)


def _copy_uniform(
    layout: CopyLayout,
    ids: Sequence[int],
    params: UniformInserts,
    start: int,
    stop: int,
    now: str,
) -> str:
    """`copy_jobs` for rows that share all but their arguments and meta with the first:
    the columns before and after the arguments are one text each, and the rows' own
    values are read without making the rows (built and checked now)."""
    first = params.first
    arguments, metas = params.varying(start, stop)
    head = (
        f"{copy_value(first.job)}\t{copy_value(first.queue)}\t{first.priority}\t{first.state.value}"
    )
    tail = f"{first.max_attempts}{layout.shared(first, now)}"
    if layout.meta:
        if metas is None:
            tail = f"{tail}\t{_copy_meta(first.meta)}"
        else:
            return "".join(
                f"{job_id}\t{head}\t{copy_json(args)}\t{tail}\t{_copy_meta(meta)}\n"
                for job_id, args, meta in zip(ids, arguments, metas, strict=True)
            )
    return "".join(
        f"{job_id}\t{head}\t{copy_json(args)}\t{tail}\n"
        for job_id, args in zip(ids, arguments, strict=True)
    )
