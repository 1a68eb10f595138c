"""The dependency rule: web -> infrastructure -> application, never backwards; the runtime
sees only the storage port, never a backend."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "medley"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules_under(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


@pytest.mark.unit
@pytest.mark.parametrize("path", _modules_under("application"), ids=lambda p: p.name)
def test_application_layer_imports_only_stdlib_typing_and_pydantic(path: Path) -> None:
    for module in _imports(path):
        top = module.split(".")[0]
        assert top not in ("psycopg", "sqlite3"), f"{path} imports {module}"
        if module.startswith("medley."):
            assert module.startswith("medley.application"), f"{path} imports {module}"


@pytest.mark.unit
@pytest.mark.parametrize(
    "path",
    _modules_under("infrastructure/jobs/runtime")
    + _modules_under("infrastructure/jobs/maintenance"),
    ids=lambda p: p.name,
)
def test_runtime_sees_only_the_storage_port(path: Path) -> None:
    for module in _imports(path):
        assert ".storage.postgres" not in module, f"{path} imports {module}"
        assert ".storage.sqlite" not in module, f"{path} imports {module}"
        assert not module.startswith(("psycopg", "sqlite3")), f"{path} imports {module}"


@pytest.mark.unit
@pytest.mark.parametrize("path", _modules_under("infrastructure"), ids=lambda p: p.name)
def test_infrastructure_never_imports_the_web_layer(path: Path) -> None:
    for module in _imports(path):
        assert not module.startswith("medley.web"), f"{path} imports {module}"


@pytest.mark.unit
def test_sql_lives_only_in_the_storage_adapters() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE medley_", "DELETE FROM")
    for path in SRC.rglob("*.py"):
        if "storage" in path.parts and ("postgres" in path.parts or "sqlite" in path.parts):
            continue
        text = path.read_text(encoding="utf-8")
        for keyword in keywords:
            assert keyword not in text, f"{path} contains SQL ({keyword.strip()})"
