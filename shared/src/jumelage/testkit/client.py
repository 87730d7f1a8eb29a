"""Calling the services as someone: tokens signed with a known secret, ``ActingAs``
(an httpx auth that mints the current identity's token per request), and
``ServicesClient``, the three APIs over HTTP as one person (the demo, the benchmark); ``ok`` and
``found``, a test's call that must answer as expected and its read until it does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from jumelage.auth import mint
from jumelage.testkit.waiting import eventually

TEST_AUTH_SECRET = "jumelage-tests-only-hs256-secret-0123456789"
# The identity key ring of tests and test processes (jumelage.sealing): fixed, never a real one.
TEST_IDENTITY_KEYS = "t1:" + "dGVzdHMtb25seS1pZGVudGl0eS1rZXktMDEyMzQ1Njc="  # 32 bytes
TEST_IDENTITY_SEARCH_KEY = "dGVzdHMtb25seS1zZWFyY2gta2V5LTAxMjM0NTY3ODk="  # 32 bytes
TEST_IDENTITY_ENV = {"IDENTITY_KEYS": TEST_IDENTITY_KEYS, "IDENTITY_SEARCH_KEY": TEST_IDENTITY_SEARCH_KEY}


def token(*roles: str, institution: uuid.UUID | str | None = None, practitioner: uuid.UUID | str | None = None,
          subject: str = "tester", secret: str = TEST_AUTH_SECRET, **claims: Any) -> str:
    """A token signed with the tests' secret (or ``secret``), as ``python -m jumelage.auth mint`` makes them."""
    return mint(secret, subject=subject, institution=institution, roles=roles, practitioner=practitioner, **claims)


def bearer(*roles: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, **kw)}"}


class ActingAs(httpx.Auth):
    """The identity a test's client calls as: set it, or switch for a block.

    Each request gets a freshly minted token of the current identity, unless the
    request carries its own ``Authorization`` header.
    """

    def __init__(self, *roles: str, secret: str = TEST_AUTH_SECRET, **kw: Any) -> None:
        self.secret = secret
        self.identity: tuple[tuple[str, ...], dict[str, Any]] | None = (roles, kw) if roles or kw else None

    def set(self, *roles: str, **kw: Any) -> None:
        self.identity = (roles, kw)

    @contextlib.contextmanager
    def acting(self, *roles: str, **kw: Any) -> Iterator[None]:
        before, self.identity = self.identity, (roles, kw)
        try:
            yield
        finally:
            self.identity = before

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self.identity is not None and "authorization" not in request.headers:
            roles, kw = self.identity
            request.headers["Authorization"] = f"Bearer {token(*roles, secret=self.secret, **kw)}"
        yield request


class ServicesClient:
    """The services' APIs over HTTP (``urls``: service name -> base URL), called as one
    person with a token minted once; ``as_`` gives another person's view."""

    def __init__(self, urls: dict[str, str], secret: str, http: httpx.AsyncClient | None = None,
                 token: str | None = None) -> None:
        self.http = http or httpx.AsyncClient(timeout=60)
        self.urls, self.secret, self.token = urls, secret, token

    def as_(self, subject: str, *roles: str, institution: str | None = None) -> ServicesClient:
        minted = mint(self.secret, subject=subject, institution=institution, roles=roles)
        return ServicesClient(self.urls, self.secret, self.http, minted)

    def headers(self, correlation: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if correlation:
            headers["X-Correlation-ID"] = correlation
        return headers

    async def call(self, service: str, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201),
                   correlation: str | None = None, headers: dict[str, str] | None = None) -> Any:
        """The response body of a call that must answer with one of ``ok`` (else RuntimeError)."""
        r = await self.http.request(method, self.urls[service] + path, json=body,
                                    headers={**self.headers(correlation), **(headers or {})})
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {service}{path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    async def until(self, service: str, path: str, check: Callable[[Any], bool] = lambda b: True,
                    timeout: float = 30) -> Any:
        """GET ``path`` until it answers 200 with a body ``check`` accepts."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            r = await self.http.get(self.urls[service] + path, headers=self.headers())
            if r.status_code == 200 and check(r.json()):
                return r.json()
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{service}{path} not as expected: {r.status_code} {r.text[:300]}")
            await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        await self.http.aclose()


async def ok(client: httpx.AsyncClient, method: str, url: str, status: int = 200, **kw: Any) -> Any:
    """A test's call that must answer ``status`` (else an assertion naming what it answered): its body."""
    response = await client.request(method, url, **kw)
    assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


async def found(client: httpx.AsyncClient, url: str, ready: Callable[[Any], Any] = lambda _: True) -> Any:
    """GET ``url`` until it answers 200 with a body ``ready`` accepts (a service that hears of it
    by an event gets there eventually): that body."""
    async def seen() -> Any:
        response = await client.get(url)
        if response.status_code == 200 and ready(body := response.json()):
            return body
        return None
    return await eventually(seen)
