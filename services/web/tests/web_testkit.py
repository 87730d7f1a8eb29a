"""The web app's test kit (fixtures in conftest.py): the three real services in this process (on
SQLite, over the real broker), the web app calling them through in-process
transports, and a browser-like client (cookies, forms) per person."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import convention.app
import notification.app
import scheduling.app
import web.app
from jumelage.testkit.client import TEST_AUTH_SECRET
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services

INSTITUTIONS = {  # key: (name, kind, country)
    "cmci": ("CMCI Bousmail", "clinic", "DZ"),
    "gsd": ("Gruppo San Donato", "hospital_group", "IT"),
    "cnas": ("CNAS", "insurer", "DZ"),
    "other": ("Clinique des Oasis", "clinic", "DZ"),
}


def people(ids: dict[str, str]) -> list[dict[str, Any]]:
    """The people the local sign-in page lists, as scripts/demo.py writes them."""
    def person(subject: str, name: str, key: str | None, *roles: str) -> dict[str, Any]:
        return {"subject": subject, "name": name, "institution": INSTITUTIONS[key][0] if key else None,
                "institution_id": ids[key] if key else None, "roles": list(roles)}

    return [person("admin", "Platform administrator", None, "administrator"),
            person("amina", "Amina (coordinator, CMCI)", "cmci", "coordinator"),
            person("giulia", "Giulia (coordinator, GSD)", "gsd", "coordinator"),
            person("karim", "Karim (funder, CNAS)", "cnas", "funder"),
            person("outsider", "Coordinator of another clinic", "other", "coordinator"),
            person("clara", "Clara (clinician, CMCI)", "cmci", "clinician"),
            person("omar", "Omar (clinician, Clinique des Oasis)", "other", "clinician"),
            person("samir", "Samir (clinician, CMCI)", "cmci", "clinician"),
            person("outsider-clinician", "Clinician of another clinic", "other", "clinician"),
            person("dalila", "Dalila (privacy officer, CMCI)", "cmci", "privacy_officer")]


@dataclass
class Browser:
    """A person's browser: cookies kept, forms posted with the CSRF token of the page they came from."""

    client: httpx.AsyncClient

    async def open(self, path: str, status: int = 200) -> str:
        r = await self.client.get(path)
        assert r.status_code == status, f"GET {path}: {r.status_code}\n{r.text[:2000]}"
        return r.text

    @staticmethod
    def csrf(page: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "the page has no form with a CSRF token"
        return html.unescape(found.group(1))

    @staticmethod
    def field(page: str, form_action: str, name: str) -> str:
        form = page[page.index(f'action="{form_action}"'):]
        form = form[:form.index("</form>")]
        found = re.search(rf'name="{name}" value="([^"]*)"', form)
        assert found, f"no field {name} in the form to {form_action}"
        return html.unescape(found.group(1))

    async def submit(self, page: str, action: str, fields: dict[str, Any], status: int = 303) -> httpx.Response:
        """Post the form to ``action`` found on ``page``, with its hidden fields and ``fields``."""
        data = {"csrf": self.csrf(page)}
        for hidden in ("form_key", "if_match", "next"):
            try:
                data[hidden] = self.field(page, action, hidden)
            except (AssertionError, ValueError):
                pass
        data.update({k: str(v) for k, v in fields.items()})
        r = await self.client.post(action, data=data)
        assert r.status_code == status, f"POST {action}: {r.status_code}\n{_alerts(r.text)}"
        return r

    async def sign_in(self, subject: str) -> None:
        page = await self.open("/signin")
        await self.submit(page, "/signin/local", {"subject": subject})


def _alerts(page: str) -> str:
    """What a page says went wrong (its role="alert" parts), for a failing test's message."""
    found = re.findall(r'role="alert"[^>]*>(.*?)</div>', page, flags=re.S)
    return "\n".join(re.sub(r"<[^>]+>|\s+", " ", f) for f in found) or page[:1500]


@dataclass
class Stack:
    services: dict[str, httpx.AsyncClient]
    web_app: Any
    transport: httpx.ASGITransport
    ids: dict[str, str]

    def browser(self, language: str = "en") -> Browser:
        """A browser whose person reads ``language`` (its Accept-Language; the tests read English)."""
        return Browser(httpx.AsyncClient(transport=self.transport, base_url="http://web",
                                         headers={"Accept-Language": language}))

    async def as_admin(self, method: str, service: str, path: str, **kw: Any) -> Any:
        return await self.call(method, service, path, ("administrator",), None, **kw)

    async def as_coordinator(self, key: str, method: str, service: str, path: str, **kw: Any) -> Any:
        return await self.call(method, service, path, ("coordinator",), self.ids[key], **kw)

    async def call(self, method: str, service: str, path: str, roles: tuple[str, ...], institution: str | None,
                   **kw: Any) -> Any:
        client = self.services[service]
        with client.auth.acting(*roles, institution=institution):
            r = await client.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


@pytest.fixture
def database(tmp_path: Path) -> Database:  # the web app owns no data: its tests use the services on SQLite
    return Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'web-test.db'}")


@pytest.fixture
async def stack(amqp_url: str, namespace: str, database: Database, tmp_path: Path) -> AsyncIterator[Stack]:
    modules = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
    async with running_services(modules, amqp_url=amqp_url, namespace=namespace, database=database) as clients:
        transports = {name: c._transport for name, c in clients.items()}
        ids = {}
        with clients["convention"].auth.acting("administrator"):
            for key, (name, kind, country) in INSTITUTIONS.items():
                r = await clients["convention"].post("/institutions", json={"name": name, "kind": kind,
                                                                             "country": country, "city": "x"})
                assert r.status_code == 201, r.text
                ids[key] = r.json()["id"]
        listed = tmp_path / "people.json"
        listed.write_text(json.dumps(people(ids)))
        settings = web.app.Settings(amqp_url=amqp_url, topology_namespace=namespace, auth_secret=TEST_AUTH_SECRET,
                                    local_people_file=listed, log_format="console")
        app = web.app.create_app(settings, transports=transports)
        async with app.router.lifespan_context(app):
            yield Stack(clients, app, httpx.ASGITransport(app=app), ids)


async def programme(stack: Stack) -> dict:
    """A draft convention between the fund, the provider and the clinic."""
    start = date.today()
    ids = stack.ids
    client = stack.services["convention"]
    with client.auth.acting("coordinator", institution=ids["cmci"]):
        r = await client.post("/conventions", json={
            "reference": "CNAS-GSD-2026", "title": "Paediatric cardiac surgery", "kind": "international_cooperation",
            "parties": [{"institution_id": ids["cnas"], "role": "funder"},
                        {"institution_id": ids["gsd"], "role": "provider"},
                        {"institution_id": ids["cmci"], "role": "beneficiary"}],
            "effective_from": start.isoformat(), "effective_until": (start + timedelta(days=365)).isoformat(),
            "specialties": ["paediatric cardiac surgery"],
            "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})
    assert r.status_code == 201, r.text
    return r.json()


# -- a mail catcher for the notification service of the stack (request it before ``stack``) ----------


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The notification service's SMTP server (SMTP_PORT is read when the stack starts)."""
    from jumelage.testkit.mail import MailCatcher

    catcher = MailCatcher()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(catcher.start()))
    yield catcher
    catcher.stop()
