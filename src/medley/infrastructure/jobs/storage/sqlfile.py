"""Named SQL blocks loaded from `.sql` files, so SQL lives together per backend.

A file holds blocks that each start with `-- name: <name>`; comments and blank lines
before the first statement line of a block are kept in the text (harmless to drivers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import LiteralString

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, LiteralString]:
    """Split `text` into its named blocks. Raises ValueError on a repeated name."""
    queries: dict[str, LiteralString] = {}
    matches = list(_NAME.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        body = text[match.end() : end].strip().rstrip(";")
        queries[name] = body  # a literal read from our own package files
    return queries


def load_queries(package: str) -> Mapping[str, LiteralString]:
    """Every named block of every `.sql` file in `package` (a `sql` folder)."""
    queries: dict[str, LiteralString] = {}
    for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, body in parse_queries(entry.read_text(encoding="utf-8")).items():
                if name in queries:
                    raise ValueError(f"query {name!r} is defined twice in {package}")
                queries[name] = body
    return queries


def load_migrations(package: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for each `NNNN_name.sql` in `package`, in version order.
    Versions must be unique; they need not be contiguous (features land independently)."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files(package).iterdir():
        match = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"migrations in {package} repeat a version: {versions}")
    return found
