"""The API documents every service serves without a token, each page with its scripts
from the service itself (no CDN: the pages work on a hospital network without the internet).

- ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) over ``/openapi.json``;
- ``/asyncapi`` (the AsyncAPI React component's standalone bundle) over ``/asyncapi.json``,
  the catalogue (``jumelage.catalogue``);
- ``/schemas/<type>.json``: the JSON schema of an event type's ``data``, what its events'
  ``dataschema`` names; ``/schemas/<type>.envelope.json``: the whole message's (the snapshot);
- ``/docs-assets/...``: the viewers' files, installed from the npm registry as
  services/web/package-lock.json pins them and copied by ``scripts/assets.sh``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from jumelage.events import registry
from jumelage.events.snapshot import SCHEMAS_DIR, data_schema

ASSETS_DIR = Path(__file__).parent / "static" / "docs"
ASSETS = "/docs-assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "asyncapi-standalone.js",
               "asyncapi.css", "favicon-32x32.png")
"""What ``scripts/assets.sh`` copies into ``static/docs`` (its list and this one are the same)."""

PAGE_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
               "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
"""The pages' Content-Security-Policy: nothing from elsewhere, even what a viewer's bundle
names itself (ReDoc's sidebar logo is an image on its CDN); the inline parts are the
pages' own start-up scripts and the viewers' styles. The AsyncAPI viewer's parser
compiles the document's JSON schemas into functions (ajv): its page allows eval, of
the scripts it loads from here only."""


def _page(response: HTMLResponse, *, evaluates: bool = False) -> HTMLResponse:
    policy = PAGE_POLICY.replace("'unsafe-inline';", "'unsafe-inline' 'unsafe-eval';", 1) if evaluates else PAGE_POLICY
    response.headers["Content-Security-Policy"] = policy
    return response


def install_documents(app: FastAPI, catalogue: Callable[[], dict[str, Any]], *, source: str, title: str) -> None:
    """The documents' routes on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=ASSETS_DIR, check_dir=False), name="docs-assets")
    favicon = f"{ASSETS}/favicon-32x32.png"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} API",
                                         swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                         swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=favicon,
                                         oauth2_redirect_url=oauth2_redirect,
                                         swagger_ui_parameters={"validatorUrl": None}))

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(get_redoc_html(openapi_url="/openapi.json", title=f"{title} API",
                                    redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=favicon,
                                    with_google_fonts=False))

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> dict[str, Any]:
        return catalogue()

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return _page(HTMLResponse(asyncapi_page(catalogue(), title=f"{title} AsyncAPI", favicon=favicon)),
                     evaluates=True)

    own = {cls.event_type for cls in registry.from_source(source)}

    @app.get("/schemas/{name}", include_in_schema=False)
    async def event_schema(name: str) -> JSONResponse:
        event_type, _, kind = name.removesuffix(".json").partition(".")
        if event_type not in own or kind not in ("", "envelope") or not name.endswith(".json"):
            raise HTTPException(404, f"no event schema {name!r} here: this service publishes "
                                     f"{', '.join(sorted(own)) or 'no events'} (/schemas/<type>.json)")
        envelope = json.loads((SCHEMAS_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
        return JSONResponse(envelope if kind else data_schema(envelope, event_type),
                            media_type="application/schema+json")


def asyncapi_page(document: dict[str, Any], *, title: str, favicon: str) -> str:
    """The AsyncAPI viewer's page, the document inline (``<`` escaped: no ``</script>`` can end it)."""
    config = {"show": {"sidebar": True, "info": True, "servers": True, "operations": True, "messages": True,
                       "schemas": True, "errors": True},
              "expand": {"messageExamples": True},
              "sidebar": {"showServers": "byDefault", "showOperations": "byDefault"}}
    inline = json.dumps({"schema": document, "config": config}, ensure_ascii=False).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="icon" type="image/png" href="{favicon}">
<link rel="stylesheet" href="{ASSETS}/asyncapi.css">
</head>
<body>
<div id="asyncapi"></div>
<script src="{ASSETS}/asyncapi-standalone.js"></script>
<script>window.AsyncApiStandalone.render({inline}, document.getElementById("asyncapi"));</script>
</body>
</html>
"""
