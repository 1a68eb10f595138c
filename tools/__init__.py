"""Developer tools that are not part of the installed package (chaos runs)."""

from __future__ import annotations
