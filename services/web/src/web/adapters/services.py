"""The three services' HTTP APIs, called with the signed-in person's token.

The services stay the judges of access: the web app forwards the person's bearer
token and shows a refusal in the service's own words (``ServiceRefused``). A
service that does not answer is ``ServiceDown``: a banner, never a stack trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from jumelage import context
from jumelage.logging import get_logger

log = get_logger(__name__)

SERVICES = ("convention", "scheduling", "notification")


class ServiceRefused(Exception):
    """A service answered 4xx: ``detail`` is its own words (a sentence, or the fields it names)."""

    def __init__(self, service: str, status: int, detail: Any, etag: str | None = None) -> None:
        super().__init__(f"{service} refused ({status}): {detail}")
        self.service, self.status, self.detail, self.etag = service, status, detail, etag

    def sentences(self) -> list[str]:
        """The refusal as sentences a person reads: a validation error names each field."""
        if isinstance(self.detail, list):
            out = []
            for item in self.detail:
                if isinstance(item, Mapping):
                    loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
                    out.append(f"{'.'.join(loc)}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
                else:
                    out.append(str(item))
            return out
        if isinstance(self.detail, Mapping):
            return [str(self.detail.get("detail") or self.detail.get("message") or self.detail)]
        return [str(self.detail)]


class ServiceDown(Exception):
    """A service did not answer, or failed (5xx): the page says which, and that it may come back."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} unavailable: {reason}")
        self.service, self.reason = service, reason


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    etag: str | None


@dataclass(frozen=True)
class Download:
    """A file a service answered (a report): its bytes, media type and the name it gave it."""

    content: bytes
    media_type: str
    disposition: str | None


MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # a report's PDF or zip is a few hundred kilobytes


class Services:
    """One pooled HTTP client per service; ``as_person`` gives the calls of one person."""

    def __init__(self, urls: Mapping[str, str], *, timeout: float,
                 transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        """``transports``: a service reached otherwise than over the network (tests run them in-process)."""
        self.urls = dict(urls)
        self._clients = {name: httpx.AsyncClient(base_url=url, timeout=timeout, transport=(transports or {}).get(name))
                         for name, url in self.urls.items()}

    def as_person(self, token: str | None, language: str = "fr") -> PersonServices:
        return PersonServices(self, token, language)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def send(self, service: str, method: str, path: str, *, token: str | None, language: str,
                   params: Mapping[str, Any] | None = None, json: Any = None,
                   headers: Mapping[str, str] | None = None) -> Reply:
        sent = {"Accept": "application/json", "Accept-Language": language}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        chain = context.correlation_id.get()
        if chain:
            sent["X-Correlation-ID"] = chain
        sent.update(headers or {})
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            r = await self._clients[service].request(method, path, params=clean, json=json, headers=sent)
        except httpx.HTTPError as exc:
            log.warning("service unreachable", service=service, path=path, error=type(exc).__name__)
            raise ServiceDown(service, type(exc).__name__) from None
        body: Any = None
        if r.content:
            try:
                body = r.json()
            except ValueError:
                body = r.text[:500]
        if r.status_code >= 500:
            log.warning("service failed", service=service, path=path, status=r.status_code)
            raise ServiceDown(service, f"HTTP {r.status_code}")
        if r.status_code >= 400:
            detail = body.get("detail", body) if isinstance(body, Mapping) else body
            raise ServiceRefused(service, r.status_code, detail, r.headers.get("ETag"))
        return Reply(r.status_code, body, r.headers.get("ETag"))


    async def download(self, service: str, path: str, *, token: str | None, language: str,
                       params: Mapping[str, Any] | None = None) -> Download:
        """A file, not JSON: its bytes as they came (a refusal is still the service's JSON words)."""
        sent = {"Accept": "*/*", "Accept-Language": language}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        chain = context.correlation_id.get()
        if chain:
            sent["X-Correlation-ID"] = chain
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            r = await self._clients[service].request("GET", path, params=clean, headers=sent)
        except httpx.HTTPError as exc:
            log.warning("service unreachable", service=service, path=path, error=type(exc).__name__)
            raise ServiceDown(service, type(exc).__name__) from None
        if r.status_code >= 500:
            log.warning("service failed", service=service, path=path, status=r.status_code)
            raise ServiceDown(service, f"HTTP {r.status_code}")
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text[:500]
            detail = body.get("detail", body) if isinstance(body, Mapping) else body
            raise ServiceRefused(service, r.status_code, detail)
        if len(r.content) > MAX_DOWNLOAD_BYTES:
            raise ServiceDown(service, "a file larger than the web app passes on")
        return Download(r.content, r.headers.get("content-type", "application/octet-stream"),
                        r.headers.get("content-disposition"))


class PersonServices:
    """What one signed-in person may ask of the services: their token on every call."""

    def __init__(self, services: Services, token: str | None, language: str) -> None:
        self._services, self._token, self.language = services, token, language

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return (await self.read(service, path, **params)).body

    async def read(self, service: str, path: str, **params: Any) -> Reply:
        return await self._services.send(service, "GET", path, token=self._token, language=self.language,
                                         params=params)

    async def download(self, service: str, path: str, **params: Any) -> Download:
        return await self._services.download(service, path, token=self._token, language=self.language,
                                             params=params)

    async def change(self, service: str, method: str, path: str, body: Any = None, *,
                     idempotency_key: uuid.UUID | str | None = None, if_match: str | None = None) -> Reply:
        """A change, once: the form's own key is the Idempotency-Key, so a form sent
        twice acts once (the service replays its first answer)."""
        headers = {}
        if idempotency_key:
            headers["Idempotency-Key"] = str(idempotency_key)
        if if_match:
            headers["If-Match"] = if_match
        return await self._services.send(service, method, path, token=self._token, language=self.language,
                                         json=body, headers=headers)
