"""API bearer tokens: 256 random bits shown once, stored as their SHA-256.

A token carries enough entropy that a fast hash is safe (unlike a password, it cannot be
guessed from a dictionary), so each request costs one indexed lookup, not an argon2 run.
"""

from __future__ import annotations

import hashlib
import secrets

from medley.infrastructure.jobs.storage.port import JobStore
from medley.web.auth.principal import Principal, Role

TOKEN_PREFIX = "medley_"
"""Makes a leaked token recognisable to secret scanners and to people."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuthority:
    """Creates, checks and revokes API tokens in the job store."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    async def create(self, role: Role, name: str = "") -> tuple[int, str]:
        """A new token: (id, secret). The secret is returned only here, never again."""
        token = new_token()
        token_id = await self.store.token_insert(name, hash_token(token), role.value)
        return token_id, token

    async def authenticate(self, token: str) -> Principal | None:
        """The token's principal, or None if unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = await self.store.token_get_by_hash(hash_token(token))
        if row is None or row.revoked_at is not None:
            return None
        return Principal(name=row.name or f"token {row.id}", role=Role(row.role), via="token")

    async def revoke(self, token_id: int) -> bool:
        return await self.store.token_revoke(token_id)
