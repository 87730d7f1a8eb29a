"""Signing in with the identity provider: OpenID Connect, authorization code flow
with PKCE (S256), through Authlib. Framework-free; the routes call it:

    client = OidcClient(issuer, client_id, client_secret, redirect_uri, scopes)
    url, pending = await client.begin()          # keep ``pending.to_dict()`` in the signed cookie
    ...the browser comes back to redirect_uri with ?code=...&state=...
    signed = await client.finish(request.query_params, Pending.from_dict(kept))
    # signed.access_token: the bearer for the services (never to the browser's JavaScript)

``finish`` checks the state, exchanges the code with the PKCE verifier, and
verifies the ID token: its signature against the provider's JWKS (fetched once,
and again when a token's key is not in it: the ID token comes from the provider
itself, over the back channel, so no one else can make it fetch), issuer, audience (this client), nonce, expiry and
``at_hash``. Every failure is a :class:`SignInRefused` whose ``reason`` may be
shown; :class:`ProviderUnavailable` (one of them) when the provider cannot be
reached. Neither a token nor a code is ever put in a reason or a log line.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError, ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from jumelage.logging import get_logger

with warnings.catch_warnings():
    # Authlib 1.9 would rather have httpx2 (a fork) and says so on import; we use httpx.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = get_logger(__name__)

PENDING_SECONDS = 600.0
"""How long a person may take on the provider's pages between ``begin`` and ``finish``."""
METADATA_SECONDS = 3600.0
"""How long the discovery document is kept before it is fetched again."""
LEEWAY_SECONDS = 60
"""Clock skew tolerated on the ID token's exp and iat."""
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
"""ID token algorithms accepted: public keys only (never "none", never a client-secret HMAC)."""


class SignInRefused(Exception):
    """A sign-in that did not succeed; ``reason`` is safe to show and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(SignInRefused):
    """The identity provider could not be reached or answered out of turn."""


@dataclass(frozen=True)
class Pending:
    """What the caller keeps (signed, httpOnly) between ``begin`` and ``finish``."""

    state: str
    nonce: str
    code_verifier: str
    started_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Pending:
        """From what the cookie held; anything else is a refusal, never a 500."""
        if not isinstance(data, Mapping):
            raise SignInRefused("no sign-in was started from this browser (or it was forgotten): start again")
        try:
            values = {k: data[k] for k in ("state", "nonce", "code_verifier", "started_at")}
        except KeyError as missing:
            raise SignInRefused(f"the sign-in kept in this browser has no {missing}: start again") from None
        if not all(isinstance(values[k], str) and 0 < len(values[k]) <= 200
                   for k in ("state", "nonce", "code_verifier")) \
                or not isinstance(values["started_at"], int | float):
            raise SignInRefused("the sign-in kept in this browser is malformed: start again")
        return cls(**values)


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    id_token: str                    # kept for the provider's logout (id_token_hint)
    id_token_claims: dict[str, Any]  # verified: sub, and the provider's institution, roles, practitioner
    expires_at: float                # wall time the access token expires (expires_in; else the ID token's exp)
    scope: str | None = None

    @property
    def subject(self) -> str:
        return str(self.id_token_claims["sub"])


class OidcClient:
    """One relying party at one provider. ``client_secret`` ``None``: a public client
    (PKCE alone); otherwise it authenticates to the token endpoint with HTTP Basic.
    ``transport``: the httpx transport (tests; a proxy's). One transport serves every
    request, its connections kept: a new one loads the CA store (about 150 ms of CPU).
    ``aclose`` when done."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None, redirect_uri: str,
                 scopes: Sequence[str] | str = ("openid",), *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 10.0, leeway: int = LEEWAY_SECONDS) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = " ".join(scopes.split() if isinstance(scopes, str) else scopes)
        if "openid" not in self.scopes.split():
            self.scopes = f"openid {self.scopes}".strip()
        self.leeway = leeway
        self._given_transport = transport
        self._transport: httpx.AsyncBaseTransport | None = transport
        self._timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._issued_as = self.issuer
        self._metadata_until = 0.0
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0
        self._lock = asyncio.Lock()

    # -- the provider's documents, cached --------------------------------------------------------

    def _shared_transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(retries=1)
        return self._transport

    async def aclose(self) -> None:
        if self._transport is not None and self._given_transport is None:
            await self._transport.aclose()
        self._transport = None

    def _http(self) -> httpx.AsyncClient:
        # Not closed after use: closing a client closes its transport, which is shared.
        return httpx.AsyncClient(transport=self._shared_transport(), timeout=self._timeout)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            r = await self._http().get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider cannot be reached for its {what} "
                                      f"({type(exc).__name__})") from None
        if r.status_code != 200:
            raise ProviderUnavailable(f"the identity provider answered {r.status_code} for its {what}")
        try:
            body = r.json()
        except ValueError:
            raise ProviderUnavailable(f"the identity provider's {what} is not JSON") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"the identity provider's {what} is not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        """The discovery document (``/.well-known/openid-configuration``), checked to
        name this issuer (OpenID Connect Discovery §4.3), kept ``METADATA_SECONDS``."""
        if self._metadata is not None and time.monotonic() < self._metadata_until:
            return self._metadata
        async with self._lock:
            if self._metadata is not None and time.monotonic() < self._metadata_until:
                return self._metadata
            doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration", "discovery document")
            if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
                raise ProviderUnavailable(f"the discovery document names the issuer {str(doc.get('issuer'))[:200]!r}, "
                                          f"not {self.issuer!r}")
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(field), str):
                    raise ProviderUnavailable(f"the discovery document has no {field}")
            # The ID token's iss must be this very string (a trailing slash included, if the provider writes one).
            self._issued_as = str(doc["issuer"])
            self._metadata, self._metadata_until = doc, time.monotonic() + METADATA_SECONDS
            return doc

    async def _keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is not None and not refresh:
            return self._jwks
        asked = time.monotonic()
        async with self._lock:
            if self._jwks is not None and (not refresh or self._jwks_at > asked):
                return self._jwks  # another sign-in fetched it meanwhile
            if self._metadata is None:  # begin and finish read it first
                raise ProviderUnavailable("the discovery document was not read")
            jwks_uri = self._metadata["jwks_uri"]
            doc = await self._get_json(jwks_uri, "keys (JWKS)")
            try:
                keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise ProviderUnavailable("the identity provider's keys (JWKS) cannot be read") from None
            self._jwks, self._jwks_at = keys, time.monotonic()
            return keys

    # -- signing in ---------------------------------------------------------------------------------

    def _oauth(self, **kwargs: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self._secret, scope=self.scopes,
            redirect_uri=self.redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="none" if self._secret is None else "client_secret_basic",
            transport=self._shared_transport(), timeout=self._timeout, **kwargs)

    async def begin(self, **extra: str) -> tuple[str, Pending]:
        """Where to send the browser, and what to keep until it comes back.
        ``extra``: more authorization request parameters (``ui_locales``, ``prompt``...)."""
        metadata = await self.metadata()
        pending = Pending(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                          code_verifier=secrets.token_urlsafe(64), started_at=time.time())
        url, _ = self._oauth().create_authorization_url(metadata["authorization_endpoint"], state=pending.state,
                                                code_verifier=pending.code_verifier, nonce=pending.nonce, **extra)
        return url, pending

    async def finish(self, params: Mapping[str, str], pending: Pending) -> SignedIn:
        """The person back from the provider with ``params`` (the callback's query)."""
        error = params.get("error")
        if error:
            description = str(params.get("error_description") or "")[:200]
            raise SignInRefused(_printable(f"the identity provider refused the sign-in: {error[:100]}"
                                           + (f" ({description})" if description else "")))
        state = params.get("state")
        if not state:
            raise SignInRefused("the provider's answer has no state: start again")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInRefused("the provider's answer is not for the sign-in started here (state does not match)")
        if time.time() - pending.started_at > PENDING_SECONDS:
            raise SignInRefused(f"the sign-in took more than {int(PENDING_SECONDS // 60)} minutes: start again")
        iss = params.get("iss")  # RFC 9207, when the provider sends it
        if iss is not None and iss.rstrip("/") != self.issuer:
            raise SignInRefused("the answer comes from another identity provider (iss does not match)")
        code = params.get("code")
        if not code:
            raise SignInRefused("the provider's answer has no authorization code")
        metadata = await self.metadata()
        token = await self._exchange(metadata["token_endpoint"], code, pending)
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise SignInRefused("the identity provider gave no access token")
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused("the identity provider gave no ID token (is the 'openid' scope allowed?)")
        claims = await self._verify_id_token(id_token, pending.nonce, access_token, metadata)
        expires_in = token.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            expires_at = time.time() + float(expires_in)
        else:  # the provider did not say: no longer than the ID token
            expires_at = float(claims["exp"])
        log.info("signed in with the identity provider", subject=claims.get("sub"), issuer=self.issuer)
        return SignedIn(access_token=access_token, id_token=id_token, id_token_claims=dict(claims),
                        expires_at=expires_at, scope=token.get("scope") if isinstance(token.get("scope"), str) else None)

    async def _exchange(self, token_endpoint: str, code: str, pending: Pending) -> dict[str, Any]:
        try:
            token = await self._oauth().fetch_token(
                token_endpoint, grant_type="authorization_code", code=code, code_verifier=pending.code_verifier,
                redirect_uri=self.redirect_uri)
        except OAuthError as exc:
            # The provider's error code and words (no secret in either: it never echoes the code).
            description = _printable(str(exc.description or ""))[:200]
            raise SignInRefused(f"the identity provider refused the code: {exc.error}"
                                + (f" ({description})" if description else "")) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider cannot be reached to exchange the code "
                                      f"({type(exc).__name__})") from None
        except ValueError:
            raise ProviderUnavailable("the identity provider's token answer is not JSON") from None
        return dict(token)

    async def _verify_id_token(self, id_token: str, nonce: str, access_token: str,
                               metadata: Mapping[str, Any]) -> dict[str, Any]:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ASYMMETRIC] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(), registry=registry)
            except (InvalidKeyIdError, BadSignatureError):
                # A key the provider has rotated in since we fetched its JWKS (at most once per while).
                decoded = jwt.decode(id_token, await self._keys(refresh=True), registry=registry)
        except InvalidKeyIdError:
            raise SignInRefused("the ID token is signed with a key the identity provider does not publish") from None
        except BadSignatureError:
            raise SignInRefused("the ID token's signature does not verify") from None
        except JoseError as exc:
            raise SignInRefused(f"the ID token is malformed or signed with an algorithm not accepted "
                                f"({type(exc).__name__})") from None
        except ValueError:
            raise SignInRefused("the ID token is malformed") from None
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            {"iss": {"essential": True, "value": self._issued_as}, "aud": {"essential": True, "value": self.client_id},
             "sub": {"essential": True}, "exp": {"essential": True}},
            {"nonce": nonce, "client_id": self.client_id, "access_token": access_token})
        try:
            claims.validate(leeway=self.leeway)
        except ExpiredTokenError:
            raise SignInRefused("the ID token has expired") from None
        except MissingClaimError as exc:
            raise SignInRefused(f"the ID token has no {exc.claim!r} claim") from None
        except InvalidClaimError as exc:
            raise SignInRefused(_INVALID.get(exc.claim, f"the ID token's {exc.claim!r} claim is not valid")) from None
        except JoseError as exc:
            raise SignInRefused(f"the ID token is not valid ({type(exc).__name__})") from None
        return dict(claims)

    async def logout_url(self, *, id_token_hint: str | None = None, post_logout_redirect_uri: str | None = None,
                         state: str | None = None) -> str | None:
        """Where to send the browser to end the provider's session too (OpenID Connect
        RP-Initiated Logout), or ``None`` if the provider has no ``end_session_endpoint``."""
        metadata = await self.metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        params = {"client_id": self.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
            if state:
                params["state"] = state
        return str(httpx.URL(endpoint).copy_merge_params(params))


_INVALID = {
    "iss": "the ID token is not issued by this identity provider (iss)",
    "aud": "the ID token is not meant for this application (aud is another client)",
    "azp": "the ID token is authorised for another client (azp)",
    "nonce": "the ID token is not the answer to this sign-in (nonce does not match: a replay?)",
    "at_hash": "the ID token does not go with the access token given (at_hash)",
    "iat": "the ID token's issue time is not valid",
    "nbf": "the ID token is not valid yet",
    "sub": "the ID token's subject is not valid",
}


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
