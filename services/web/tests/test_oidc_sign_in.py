"""Signing in as in deployment: OpenID Connect (code flow with PKCE) against a real
provider, whose RS256 access tokens the three services verify from its JWKS."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import convention.app
import notification.app
import scheduling.app
import web.app
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services

pytestmark = pytest.mark.asyncio
CALLBACK = "http://web/signin/callback"


@pytest.fixture
async def deployed(amqp_url: str, namespace: str, database: Database, oidc_provider: Any
                   ) -> AsyncIterator[dict[str, Any]]:
    modules = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
    trust = {"auth_mode": "rs256", "auth_jwks_url": oidc_provider.jwks_url, "auth_issuer": oidc_provider.issuer,
             "auth_audience": "jumelage"}
    client = oidc_provider.register_client([CALLBACK])
    async with running_services(modules, amqp_url=amqp_url, namespace=namespace, database=database,
                                **trust) as services:
        oidc_provider.set_user("root", roles=["administrator"])
        admin = (await oidc_provider.sign_in(client, "root"))["access_token"]
        r = await services["convention"].post("/institutions", headers={"Authorization": f"Bearer {admin}"},
                                              json={"name": "EPH Tiaret", "kind": "hospital", "country": "DZ",
                                                    "city": "Tiaret"})
        assert r.status_code == 201, r.text
        settings = web.app.Settings(amqp_url=amqp_url, topology_namespace=namespace, log_format="console",
                                    public_url="http://web", oidc_issuer=oidc_provider.issuer,
                                    oidc_client_id=client.client_id, oidc_client_secret=client.client_secret,
                                    **trust)
        app = web.app.create_app(settings, transports={n: c._transport for n, c in services.items()})
        async with app.router.lifespan_context(app):
            yield {"app": app, "provider": oidc_provider, "tiaret": r.json()["id"]}


JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.")


async def sign_in(deployed: dict[str, Any], sub: str) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A browser through the whole flow: the app, the provider's form, back to the app."""
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=deployed["app"]), base_url="http://web")
    to_provider = await browser.get("/signin/oidc", params={"next": "/conventions"})
    assert to_provider.status_code == 303
    back = await deployed["provider"].authorize(to_provider.headers["location"], sub)
    assert back.startswith(CALLBACK)
    parts = urlsplit(back)
    return browser, await browser.get(f"{parts.path}?{parts.query}")


async def test_a_coordinator_signs_in_with_the_provider_and_the_services_accept_the_token(deployed: dict) -> None:
    deployed["provider"].set_user("nadia", institution=deployed["tiaret"], roles=["coordinator"], name="Nadia H.")
    browser, landed = await sign_in(deployed, "nadia")
    assert landed.status_code == 303 and landed.headers["location"] == "/conventions"
    cookie = landed.headers["set-cookie"]
    # The access token never reaches the page: no JWT (a header and claims, each base64 of a JSON
    # object: "eyJ…") in the cookie, which is sealed (a bare "eyJ" may fall in its random bytes).
    assert "HttpOnly" in cookie and not JWT.search(cookie), cookie
    page = await browser.get("/conventions")
    assert page.status_code == 200 and "Nadia H." in page.text  # the convention service took the RS256 token
    # In deployment there is no local sign-in: the page does not offer it, the route refuses it.
    assert "local secret" not in (await browser.get("/signin")).text


async def test_a_sign_in_from_an_institution_jumelage_does_not_know_is_refused(deployed: dict) -> None:
    deployed["provider"].set_user("intrus", institution="00000000-0000-0000-0000-0000000000aa", roles=["coordinator"])
    browser, landed = await sign_in(deployed, "intrus")
    assert landed.status_code == 403 and "is not one Jumelage knows" in landed.text
    assert (await browser.get("/conventions")).status_code == 303  # not signed in


async def test_a_callback_without_the_sign_in_it_answers_is_refused(deployed: dict) -> None:
    deployed["provider"].set_user("nadia", institution=deployed["tiaret"], roles=["coordinator"])
    browser, _ = await sign_in(deployed, "nadia")
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=deployed["app"]), base_url="http://web")
    # A callback replayed in another browser (no pending sign-in): refused, no session.
    r = await stranger.get("/signin/callback", params={"code": "x", "state": "y"})
    assert r.status_code == 403 and "sign-in refused" in r.text
