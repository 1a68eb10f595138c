"""The dashboard's session cookie: signed (itsdangerous), HttpOnly, SameSite=Strict.

It holds the user's name, role and the session's CSRF token. Nothing in it is secret;
the signature makes it unforgeable, and the issue time bounds its life.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from medley.web.auth.principal import Principal, Role

SESSION_COOKIE = "medley_session"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str


class SessionSigner:
    """Turns sessions into cookie values and back."""

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        self.secret = secret
        self._serializer = URLSafeTimedSerializer(secret, salt="medley-dashboard-session")
        self.max_age_seconds = max_age_seconds

    def issue(self, principal: Principal) -> tuple[Session, str]:
        session = Session(principal, secrets.token_urlsafe(24))
        value = self._serializer.dumps(
            {"n": principal.name, "r": principal.role.value, "c": session.csrf}
        )
        return session, value

    def read(self, value: str | None) -> Session | None:
        """The session in a cookie value; None if absent, forged, expired or malformed."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=int(self.max_age_seconds))
            principal = Principal(name=str(data["n"]), role=Role(data["r"]), via="session")
            return Session(principal, str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
