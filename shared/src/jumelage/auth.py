"""Who is calling: bearer tokens (JWT) and the roles they grant.

Tokens are verified with a shared secret (HS256) on a developer's machine and
with public keys (RS256, from a JWKS file or URL) in deployment, as the
settings say. A token carries the subject, the caller's institution and roles:

    {"sub": "amina.k", "institution": "<institution id>", "roles": ["coordinator"],
     "practitioner": "<practitioner id, for practitioners>", "aud": "jumelage", "exp": ...}

This module only says *who* calls. *What* each role may do to which record is
each service's ``access`` module, next to the data it needs to decide.

``python -m jumelage.auth mint ...`` mints a local (HS256) token.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jumelage.arguments import ArgumentParser
from jumelage.errors import Forbidden
from jumelage.logging import get_logger
from jumelage.settings import ServiceSettings

log = get_logger(__name__)

MIN_SECRET_LENGTH = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash

# Registered claims PyJWT checks the type of, by the error it raises.
_REGISTERED: dict[type[Exception], str] = {
    jwt.exceptions.InvalidSubjectError: "sub", jwt.exceptions.InvalidJTIError: "jti",
    jwt.exceptions.InvalidIssuedAtError: "iat",
}


class Role(StrEnum):
    administrator = "administrator"  # registers institutions, runs the notification desk, reads the audit
    coordinator = "coordinator"      # conventions its institution is party to; missions it hosts or sends
    clinician = "clinician"          # patient cases and surgeries at its own (host) institution
    funder = "funder"                # reads the progress of the conventions it funds
    supervisor = "supervisor"        # reads the progress of the conventions it supervises
    practitioner = "practitioner"    # reads the missions they are on
    subscriber = "subscriber"        # a partner system: its own event subscriptions (jumelage.subscriptions)
    privacy_officer = "privacy_officer"  # reads who saw its institution's patients; erases on a family's request


@dataclass(frozen=True)
class Caller:
    subject: str
    institution_id: uuid.UUID | None
    roles: frozenset[Role]
    practitioner_id: uuid.UUID | None = None

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    def acts_for(self, institutions: Iterable[uuid.UUID | None], *roles: Role) -> bool:
        """Holds one of ``roles`` at one of ``institutions``."""
        return self.institution_id is not None and self.has(*roles) and self.institution_id in set(institutions)

    def describe(self) -> str:
        roles = ", ".join(sorted(self.roles)) or "no role"
        return f"{self.subject} ({roles}) of institution {self.institution_id or 'none'}"


class AuthConfigError(RuntimeError):
    """The settings do not say how to verify tokens: the service refuses to start."""


class TokenError(Exception):
    """A token we refuse; the message is safe to send back (it never quotes the token)."""


class KeysUnavailable(Exception):
    """The identity provider's keys (JWKS URL) cannot be fetched: the token can be
    neither taken nor refused. A 503, not the caller's fault (nor a reason to sign out)."""


VERIFIED_KEPT = 1024
"""Tokens a verifier remembers as verified (a client sends its token with every request)."""
VERIFIED_FOR = 60.0
"""Seconds at most a verified token is taken without verifying it again (a rotated-away key)."""


class TokenVerifier:
    """Checks signature, audience, issuer and lifetime, then reads the caller.

    A token verified once is remembered (up to ``VERIFIED_KEPT``) until it expires,
    or for ``VERIFIED_FOR`` seconds at most: decoding and checking it again costs
    more than the rest of an authenticated request's work on a small read. The
    same string signed by the same key says the same thing; only time changes
    the answer, and that is what bounds the memory."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._verified: dict[str, tuple[Caller, float, float]] = {}  # token -> caller, expires (wall), until (monotonic)
        self.audience = settings.auth_audience
        self.issuer = settings.auth_issuer
        self.leeway = settings.auth_leeway_seconds
        self._secret: str | None = None
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_client: jwt.PyJWKClient | None = None
        if settings.auth_mode == "hs256":
            self.algorithm = "HS256"
            secret = settings.auth_secret.get_secret_value() if settings.auth_secret else ""
            if len(secret) < MIN_SECRET_LENGTH:
                raise AuthConfigError(
                    f"AUTH_SECRET must be set to at least {MIN_SECRET_LENGTH} characters for AUTH_MODE=hs256 "
                    "(or mount it as the file auth_secret under SECRETS_DIR)")
            self._secret = secret
        else:
            self.algorithm = "RS256"
            if settings.auth_jwks_file is not None:
                try:
                    self._jwks = jwt.PyJWKSet.from_json(Path(settings.auth_jwks_file).read_text())
                except (OSError, jwt.PyJWKError, ValueError) as exc:
                    raise AuthConfigError(f"AUTH_JWKS_FILE {settings.auth_jwks_file}: {type(exc).__name__}: {exc}") \
                        from None
            elif settings.auth_jwks_url:
                # Fetched once, kept 5 minutes; a kid it lacks fetches it again, once per cooldown.
                self._jwks_client = jwt.PyJWKClient(settings.auth_jwks_url, cache_jwk_set=True, lifespan=300,
                                                    cooldown_duration=settings.auth_jwks_cooldown_seconds)
            else:
                raise AuthConfigError("AUTH_MODE=rs256 needs AUTH_JWKS_FILE or AUTH_JWKS_URL")

    async def verify(self, token: str) -> Caller:
        known = self._verified.get(token)
        if known is not None:
            caller, expires, until = known
            if time.time() < expires and time.monotonic() < until:
                return caller
            del self._verified[token]
        caller, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (caller, expires, time.monotonic() + VERIFIED_FOR)
        return caller

    async def _verify(self, token: str) -> tuple[Caller, float]:
        """The caller, and until when (wall time) the token may be taken again as verified."""
        try:
            key = await self._key_for(token)
            claims = jwt.decode(
                token, key, algorithms=[self.algorithm], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except jwt.InvalidSignatureError:
            raise TokenError("the token's signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise TokenError(f"the token is not signed with {self.algorithm}") from None
        except jwt.InvalidAudienceError:
            raise TokenError(f"the token is not meant for this audience (aud must be {self.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise TokenError(f"the token is not issued by {self.issuer!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"the token has no {exc.claim!r} claim") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("the token is not valid yet") from None
        except tuple(_REGISTERED) as exc:
            raise TokenError(f"the token's {_REGISTERED[type(exc)]!r} claim is malformed") from None
        except jwt.PyJWKClientConnectionError:
            raise KeysUnavailable("the identity provider's keys cannot be fetched now: try again shortly") from None
        except (jwt.PyJWKClientError, jwt.PyJWKError):
            raise TokenError("no known public key verifies the token (unknown kid?)") from None
        except jwt.InvalidTokenError as exc:
            # PyJWT names a registered claim of the wrong type in its message, as "(exp)".
            claim = re.search(r"\((exp|nbf)\)", str(exc))
            if claim:
                raise TokenError(f"the token's {claim.group(1)!r} claim is not a number of seconds") from None
            raise TokenError(f"the token is malformed ({type(exc).__name__})") from None
        caller = caller_from_claims(claims)
        # PyJWT takes the token until exp + leeway; exp is required and checked to be a number.
        return caller, float(claims["exp"]) + self.leeway

    async def _key_for(self, token: str) -> Any:
        if self._secret is not None:
            return self._secret
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"the token is malformed ({type(exc).__name__})") from None
        if self._jwks_client is not None:
            # PyJWKClient fetches over blocking HTTP (then caches): off the event loop.
            if kid is None:  # as from a JWKS file: its one key, if it has only one
                keys = await asyncio.to_thread(self._jwks_client.get_signing_keys)
                if len(keys) == 1:
                    return keys[0].key
                raise TokenError("the token names no key (kid) and the JWKS holds several")
            signing = await asyncio.to_thread(self._jwks_client.get_signing_key, kid)
            return signing.key
        assert self._jwks is not None
        keys = self._jwks.keys
        if kid is None and len(keys) == 1:
            return keys[0].key
        for k in keys:
            if k.key_id == kid:
                return k.key
        raise TokenError("no known public key verifies the token (unknown kid?)")


# What a claim may hold. Generous for other systems' roles, small enough that a
# crafted token cannot make the 403 messages and log lines that quote them large.
MAX_SUBJECT_LENGTH = 256
MAX_ROLES = 100
MAX_ROLE_LENGTH = 100


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller a verified token names. A claim of the wrong shape (a number, a
    list of objects, nested lists, an oversize value) is refused naming the claim:
    a signed token is still input, and must never become a 500."""
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise TokenError("the token's 'sub' claim is not a string")
    if not subject.strip():
        raise TokenError("the token's 'sub' claim is empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise TokenError(f"the token's 'sub' claim is longer than {MAX_SUBJECT_LENGTH} characters")
    if not subject.isprintable():  # a newline or a lone surrogate would go into messages and logs
        raise TokenError("the token's 'sub' claim holds a control or unencodable character")
    return Caller(subject=subject, institution_id=_uuid_claim(claims, "institution"), roles=_roles(claims),
                  practitioner_id=_uuid_claim(claims, "practitioner"))


def _roles(claims: dict[str, Any]) -> frozenset[Role]:
    value = claims.get("roles")
    if value is None:
        return frozenset()
    if isinstance(value, str):  # "coordinator clinician", as some providers write scopes
        if len(value) > MAX_ROLES * (MAX_ROLE_LENGTH + 1):
            raise TokenError(f"the token's 'roles' claim is longer than {MAX_ROLES} roles")
        value = value.split()
    if not isinstance(value, list):
        raise TokenError("the token's 'roles' claim is not a list of strings")
    if len(value) > MAX_ROLES:
        raise TokenError(f"the token's 'roles' claim holds more than {MAX_ROLES} roles")
    if not all(isinstance(r, str) for r in value):
        raise TokenError("the token's 'roles' claim holds something other than strings")
    if any(len(r) > MAX_ROLE_LENGTH for r in value):
        raise TokenError(f"the token's 'roles' claim holds a role longer than {MAX_ROLE_LENGTH} characters")
    # Roles of other systems sharing the identity provider grant nothing here.
    return frozenset(Role(r) for r in value if r in Role.__members__)


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID | None:
    value = claims.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 45:  # the longest form: "urn:uuid:" and 36 characters
        raise TokenError(f"the token's {name!r} claim is not an id")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise TokenError(f"the token's {name!r} claim is not an id") from None


# -- FastAPI ---------------------------------------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False, bearerFormat="JWT",
    description="A JWT with sub, institution and roles (see the README's access table).",
)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The verified caller, or 401. FastAPI caches it for the whole request."""
    if credentials is None:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    try:
        caller = await request.app.state.runtime.verifier.verify(credentials.credentials)
    except TokenError as exc:
        log.warning("token refused", reason=str(exc), path=request.url.path)
        raise _unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        log.warning("token not verified: the identity provider's keys cannot be fetched", path=request.url.path)
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(authenticated)]


def deny(caller: Caller, what: str) -> Forbidden:
    """The 403 for ``caller``, logged (who, what) so refused attempts are traceable."""
    log.warning("access refused", subject=caller.subject, institution_id=str(caller.institution_id),
                roles=sorted(r.value for r in caller.roles), refused=what)
    return Forbidden(f"{caller.describe()} may not {what}")


def require(*roles: Role, to: str) -> Any:
    """A route dependency: the caller holds one of ``roles`` (anywhere), else 403."""

    async def check(caller: CallerDep) -> Caller:
        if not caller.has(*roles):
            raise deny(caller, f"{to} (needs the role {' or '.join(roles)})")
        return caller

    return Depends(check)


# -- minting (local runs, tests) -------------------------------------------------------------------

def mint(
    key: str | Any,
    *,
    subject: str,
    institution: uuid.UUID | str | None = None,
    roles: Iterable[Role | str] = (),
    practitioner: uuid.UUID | str | None = None,
    ttl_seconds: int = 8 * 3600,
    audience: str = "jumelage",
    issuer: str | None = "jumelage-local",
    algorithm: str = "HS256",
    kid: str | None = None,
    **extra: Any,
) -> str:
    """A signed token; ``key`` is the HS256 secret or an RS256 private key."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "roles": [str(r) for r in roles], "aud": audience,
                              "iat": now, "exp": now + ttl_seconds, **extra}
    if issuer:
        claims["iss"] = issuer
    if institution is not None:
        claims["institution"] = str(institution)
    if practitioner is not None:
        claims["practitioner"] = str(practitioner)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m jumelage.auth", description="Mint a local HS256 token.")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint", help="print a token signed with AUTH_SECRET (or --secret-file)")
    m.add_argument("--subject", required=True, help="who: a login or a practitioner's name")
    m.add_argument("--institution", help="the caller's institution id")
    m.add_argument("--role", action="append", default=[], choices=[r.value for r in Role],
                   help="repeat for several roles")
    m.add_argument("--practitioner", help="the practitioner id (practitioner role)")
    m.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 h)")
    m.add_argument("--secret-file", type=Path, help="read the secret here instead of AUTH_SECRET")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    if args.secret_file:
        try:
            secret = args.secret_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            # Neither the path nor the traceback: the secret itself may have been given as the path.
            print(f"cannot read the file given with --secret-file ({type(exc).__name__})", file=sys.stderr)
            return 2
    else:
        secret = settings.auth_secret.get_secret_value() if settings.auth_secret else ""
    if len(secret) < MIN_SECRET_LENGTH:
        print(f"no secret: set AUTH_SECRET (at least {MIN_SECRET_LENGTH} characters) or pass --secret-file",
              file=sys.stderr)
        return 2
    print(mint(secret, subject=args.subject, institution=args.institution, roles=args.role,
               practitioner=args.practitioner, ttl_seconds=args.ttl, issuer=settings.auth_issuer or "jumelage-local",
               audience=settings.auth_audience))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
