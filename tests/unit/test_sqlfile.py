from __future__ import annotations

import inspect

import pytest

from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.jobs.storage.sqlfile import load_queries, parse_queries

pytestmark = pytest.mark.unit

POSTGRES_SQL = "medley.infrastructure.jobs.storage.postgres.sql"
SQLITE_SQL = "medley.infrastructure.jobs.storage.sqlite.sql"

STORE_PREFIXES = ("job_", "server_", "leader_", "batch_", "recurring_")
NEEDS_NO_SQL = frozenset({"subscribe"})
"""Port methods an adapter serves without a query of their own."""


def test_parse_queries_splits_named_blocks() -> None:
    text = (
        "-- name: job_get\n"
        "SELECT * FROM medley_job WHERE id = %(id)s;\n"
        "\n"
        "-- name: job_count\n"
        "-- counts everything\n"
        "SELECT count(*) FROM medley_job\n"
    )

    queries = parse_queries(text)

    assert queries == {
        "job_get": "SELECT * FROM medley_job WHERE id = %(id)s",
        "job_count": "-- counts everything\nSELECT count(*) FROM medley_job",
    }


def test_parse_queries_ignores_text_before_the_first_name() -> None:
    queries = parse_queries("-- file header\n\n-- name: a\nSELECT 1\n")

    assert queries == {"a": "SELECT 1"}


def test_parse_queries_of_text_without_names_is_empty() -> None:
    assert parse_queries("SELECT 1;\n") == {}


def test_parse_queries_accepts_spacing_variants_of_the_name_line() -> None:
    queries = parse_queries("--name:a\nSELECT 1\n--   name:   b_2  \nSELECT 2\n")

    assert queries == {"a": "SELECT 1", "b_2": "SELECT 2"}


def test_parse_queries_keeps_statements_spanning_several_lines() -> None:
    body = "WITH x AS (\n    SELECT 1\n)\nSELECT * FROM x"

    assert parse_queries(f"-- name: q\n{body};\n") == {"q": body}


def test_parse_queries_rejects_a_name_defined_twice() -> None:
    with pytest.raises(ValueError, match="'twice'"):
        parse_queries("-- name: twice\nSELECT 1\n-- name: twice\nSELECT 2\n")


def test_parse_queries_does_not_treat_an_inline_mention_as_a_name() -> None:
    queries = parse_queries("-- name: a\nSELECT '-- name: b'\n")

    assert list(queries) == ["a"]


def _port_methods() -> set[str]:
    return {
        name
        for name, _ in inspect.getmembers(JobStore, inspect.isfunction)
        if name.startswith(STORE_PREFIXES) and name not in NEEDS_NO_SQL
    }


def test_port_has_methods_to_check() -> None:
    assert {"job_fetch_available", "server_heartbeat", "leader_attempt_elect"} <= _port_methods()


SQLITE_ONLY = {"job_bulk_select", "limit_fetch_grantable", "limit_take", "limit_release"}
"""Helpers a dialect needs where the other does it in one statement (no arrays in SQLite)."""
POSTGRES_ONLY = {
    "job_insert_one",
    "job_fetch_available_limited",
    "job_fetch_available_limited_fast",
    "job_search_backlog",
    "job_search_parts",
}
"""Fast paths that only pay off where arrays cost something to send, the limited claims
that need row locks (SQLite claims under BEGIN IMMEDIATE with one statement), and the
listing of the backlog by its own indexes (PostgreSQL's list indexes leave it out)."""
SERVED_BY_ANOTHER = {POSTGRES_SQL: {"job_list"}}
"""Port methods whose queries are another's: PostgreSQL lists jobs as it searches them."""


def test_both_backends_define_the_same_query_names() -> None:
    postgres = set(load_queries(POSTGRES_SQL))
    sqlite = set(load_queries(SQLITE_SQL))

    assert sorted(postgres - sqlite) == sorted(POSTGRES_ONLY), "queries only PostgreSQL has"
    assert sorted(sqlite - postgres) == sorted(SQLITE_ONLY | SERVED_BY_ANOTHER[POSTGRES_SQL])


@pytest.mark.parametrize("package", [POSTGRES_SQL, SQLITE_SQL])
def test_every_storage_port_method_has_a_query_of_its_name(package: str) -> None:
    names = set(load_queries(package)) | SERVED_BY_ANOTHER.get(package, set())

    assert sorted(_port_methods() - names) == []
