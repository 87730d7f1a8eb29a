"""Signing in locally: the demo's people, with tokens minted with the local secret.

Exists only when the services run with the local secret (``AUTH_MODE=hs256``
and ``AUTH_SECRET``); in deployment people sign in with the identity provider.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jumelage.auth import mint
from jumelage.errors import Forbidden
from web.adapters.oidc import OidcClient, Pending, SignInRefused
from web.adapters.services import PersonServices, ServiceRefused
from web.domain.commands import BeginSignIn, FinishSignIn, LocalPeople, SignInLocally
from web.store.sessions import Session


@dataclass(frozen=True)
class LocalPerson:
    subject: str
    name: str
    institution_id: str | None
    institution: str | None
    roles: tuple[str, ...]
    practitioner_id: str | None = None


def read_people(path: Path | None) -> list[LocalPerson]:
    """The people a local run knows (``scripts/demo.py`` writes them), or none."""
    if path is None or not path.exists():
        return []
    people = json.loads(path.read_text())
    return [LocalPerson(subject=str(p["subject"])[:200], name=str(p.get("name") or p["subject"])[:200],
                        institution_id=p.get("institution_id"), institution=p.get("institution"),
                        roles=tuple(p.get("roles") or ()), practitioner_id=p.get("practitioner_id"))
            for p in people]


async def local_people(_query: LocalPeople, _services: Any, *, people_file: Path | None) -> list[LocalPerson]:
    return read_people(people_file)


async def sign_in_locally(cmd: SignInLocally, _services: Any, *, people_file: Path | None, local_secret: str | None,
                          audience: str, session_hours: float) -> Session:
    if local_secret is None:
        raise Forbidden("local sign-in exists only when the services run with the local secret")
    people = {p.subject: p for p in read_people(people_file)}
    if cmd.subject not in people:
        raise Forbidden(f"no one called {cmd.subject!r} may sign in here")
    return local_session(people[cmd.subject], local_secret, audience=audience, language=cmd.language,
                         hours=session_hours)


def local_session(person: LocalPerson, secret: str, *, audience: str, language: str | None, hours: float) -> Session:
    ttl = int(hours * 3600)
    token = mint(secret, subject=person.subject, institution=person.institution_id, roles=person.roles,
                 practitioner=person.practitioner_id, ttl_seconds=ttl, audience=audience)
    return Session(language=language, subject=person.subject, name=person.name, token=token,
                   expires_at=time.time() + ttl, institution_id=person.institution_id, roles=person.roles,
                   practitioner_id=person.practitioner_id, via="local")


async def begin_sign_in(cmd: BeginSignIn, _services: Any, *, oidc: OidcClient | None) -> tuple[str, dict[str, Any]]:
    if oidc is None:
        raise Forbidden("no identity provider is configured (OIDC_ISSUER, OIDC_CLIENT_ID)")
    url, pending = await oidc.begin(ui_locales=cmd.language)
    return url, pending.to_dict()


async def finish_sign_in(cmd: FinishSignIn, services: Any, *, oidc: OidcClient | None) -> Session:
    """The person as the provider vouches for them, once the services know their institution:
    an account of an institution Jumelage does not know, or with no role, is refused here."""
    if oidc is None:
        raise Forbidden("no identity provider is configured (OIDC_ISSUER, OIDC_CLIENT_ID)")
    try:
        signed = await oidc.finish(cmd.params, Pending.from_dict(cmd.pending))
    except SignInRefused as refused:
        raise Forbidden(f"sign-in refused: {refused.reason}") from None
    claims = signed.id_token_claims
    roles = tuple(str(r) for r in claims.get("roles") or () if isinstance(r, str))
    institution = claims.get("institution")
    if not roles:
        raise Forbidden(f"{signed.subject} holds no role in Jumelage: ask your institution's administrator")
    if "administrator" not in roles:
        if not institution:
            raise Forbidden(f"{signed.subject}'s account names no institution")
        person: PersonServices = services.as_person(signed.access_token, cmd.language or "fr")
        try:
            await person.get("convention", f"/institutions/{institution}")
        except ServiceRefused:
            raise Forbidden(f"{signed.subject}'s institution ({institution}) is not one Jumelage knows: "
                            "sign in with the account of a registered institution") from None
    name = str(claims.get("name") or claims.get("preferred_username") or signed.subject)[:200]
    return Session(language=cmd.language, subject=signed.subject, name=name, token=signed.access_token,
                   expires_at=signed.expires_at, institution_id=str(institution) if institution else None,
                   roles=roles, practitioner_id=claims.get("practitioner"), via="oidc")
