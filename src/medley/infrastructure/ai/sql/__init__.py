"""The AI repository's named queries: `postgres.sql` and `sqlite.sql`, same names."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import LiteralString

from medley.infrastructure.jobs.storage.sqlfile import parse_queries


def load(dialect: str) -> Mapping[str, LiteralString]:
    """The named blocks of `<dialect>.sql` (`postgres` or `sqlite`)."""
    text = resources.files(__name__).joinpath(f"{dialect}.sql").read_text(encoding="utf-8")
    return parse_queries(text)
