"""Dashboard users: names with argon2id password hashes in the job store."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.storage.port import JobStore
from medley.web.auth.principal import Principal, Role

PASSWORD_MIN_LENGTH = 8

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("medley-no-such-user")
"""Verified against when the user does not exist, so that a wrong name and a wrong
password take the same time (no user enumeration by timing)."""


class UserDirectory:
    """Adds, removes and verifies dashboard users. Hashing runs in a thread: argon2 is
    deliberately slow and must not stall the event loop."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    async def add(self, name: str, password: str, role: Role) -> bool:
        """Create the user, or replace its password and role; True if created."""
        if not name.strip() or name != name.strip():
            raise ConfigError("a user name must be non-empty, without surrounding spaces")
        if len(password) < PASSWORD_MIN_LENGTH:
            raise ConfigError(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        return await self.store.user_upsert(name, password_hash, role.value)

    async def remove(self, name: str) -> bool:
        return await self.store.user_delete(name)

    async def count(self) -> int:
        return await self.store.user_count()

    async def verify(self, name: str, password: str) -> Principal | None:
        """The user's principal if the password matches, else None."""
        user = await self.store.user_get(name)
        stored = user.password_hash if user is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(_matches, stored, password)
        if user is None or not ok:
            return None
        return Principal(name=user.name, role=Role(user.role), via="session")


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
