"""Test helpers. Registered for assertion rewriting before any of them is imported, so
that a failed `assert` inside a helper explains itself like one in a test."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite(
    "tests.support.backends",
    "tests.support.jobs",
    "tests.support.postgres",
    "tests.support.wait",
)
