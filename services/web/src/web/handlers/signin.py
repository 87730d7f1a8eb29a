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
from web.domain.commands import LocalPeople, SignInLocally
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


def local_session(person: LocalPerson, secret: str, *, audience: str, language: str, hours: float) -> Session:
    ttl = int(hours * 3600)
    token = mint(secret, subject=person.subject, institution=person.institution_id, roles=person.roles,
                 practitioner=person.practitioner_id, ttl_seconds=ttl, audience=audience)
    return Session(language=language, subject=person.subject, name=person.name, token=token,
                   expires_at=time.time() + ttl, institution_id=person.institution_id, roles=person.roles,
                   practitioner_id=person.practitioner_id, via="local")
