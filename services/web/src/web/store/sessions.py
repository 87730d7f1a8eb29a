"""The signed-in person's session: an encrypted, authenticated cookie.

It holds the access token, so the token stays on the server side of the wire
as far as the page is concerned: the cookie is ``HttpOnly`` (no JavaScript reads
it), ``SameSite=Lax`` (another site's form cannot send it; the identity
provider's redirect back, a top-level GET, can) and ``Secure`` in deployment,
and its content is encrypted (Fernet: AES-CBC + HMAC-SHA256), so even its holder
cannot read the token out of it. Nothing is kept server-side, so any replica of
the web app can serve any request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "jumelage_session"
PENDING_COOKIE = "jumelage_signin"  # an OpenID Connect sign-in under way: state, nonce, PKCE verifier
MAX_COOKIE_BYTES = 3800  # browsers keep at least 4096 bytes per cookie, name and attributes included


@dataclass(frozen=True)
class Session:
    language: str | None = None  # the person's own choice; else their browser's (access.speak)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    subject: str | None = None
    name: str | None = None          # what the page calls the person (never a patient)
    token: str | None = None         # the bearer token the services verify
    expires_at: float | None = None  # the token's exp (epoch seconds)
    institution_id: str | None = None
    roles: tuple[str, ...] = ()
    practitioner_id: str | None = None
    via: str | None = None           # "local" or "oidc"

    def signed_in(self, now: float) -> bool:
        return bool(self.token) and (self.expires_at is None or now < self.expires_at)

    def with_language(self, language: str) -> Session:
        return replace(self, language=language)

    def signed_out(self) -> Session:
        return Session(language=self.language)


class SessionCookie:
    """Encodes and decodes :class:`Session` (and the pending sign-in) with one key."""

    def __init__(self, secret: str, *, max_age_seconds: int, secure: bool) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"jumelage-web-session:" + secret.encode()).digest())
        self._fernet = Fernet(key)
        self.max_age_seconds = max_age_seconds
        self.secure = secure

    def seal(self, value: dict[str, Any]) -> str:
        sealed = self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()
        if len(sealed) > MAX_COOKIE_BYTES:
            raise ValueError(f"session of {len(sealed)} bytes is over the cookie limit")
        return sealed

    def open(self, sealed: str | None, *, max_age: int | None = None) -> dict[str, Any] | None:
        """The content, or None if absent, tampered with, made with another key, or too old."""
        if not sealed or len(sealed) > MAX_COOKIE_BYTES:
            return None
        try:
            return json.loads(self._fernet.decrypt(sealed.encode(), ttl=max_age or self.max_age_seconds))
        except (InvalidToken, ValueError):
            return None

    def encode(self, session: Session) -> str:
        return self.seal(asdict(session))

    def decode(self, sealed: str | None) -> Session:
        data = self.open(sealed)
        if not data:
            return Session()
        try:
            data["roles"] = tuple(data.get("roles") or ())
            return Session(**data)
        except TypeError:  # a cookie from another version of the app
            return Session()
