"""Chaos run: kill workers and database connections under load, then prove that no job
was lost and that every duplicate execution is explained by a kill (`make chaos`)."""

from __future__ import annotations
