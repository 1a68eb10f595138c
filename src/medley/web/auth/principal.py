"""The caller as the web layer sees it, whatever authenticated it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """`viewer` may read everything; `admin` may also act (cancel, retry, delete, pause)."""

    VIEWER = "viewer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. `via` says how (token, session, loopback, host)."""

    name: str
    role: Role
    via: str = "session"

    @property
    def can_act(self) -> bool:
        return self.role is Role.ADMIN
