"""A real OpenID Connect provider for the tests and for trying sign-in by hand:
``oidc-provider-mock`` (Authlib's authorization server in Flask) served on a free
loopback port, in a thread of this process.

It is the mock as published, with two additions made through Authlib's own
extension points, so that it behaves as the deployment's identity provider is
configured to:

* **PKCE is enforced** (RFC 7636, Authlib's ``CodeChallenge`` on the mock's
  authorization-code grant): a code asked for with a ``code_challenge`` is
  exchanged only with its ``code_verifier``. The mock alone ignores both.
* **Access tokens are JWTs** (RFC 9068, Authlib's ``JWTBearerTokenGenerator``)
  signed with the provider's RS256 key (the one its JWKS publishes, with its
  ``kid``), carrying ``iss`` (the provider's URL), ``aud`` (``audience``, the
  services' ``AUTH_AUDIENCE``), ``sub``, ``exp`` and the user's own claims:
  ``institution``, ``roles``, ``practitioner``. The mock alone issues opaque
  access tokens; its ID tokens (``aud`` = the client id) carry the same claims.

Clients must register (``register_client``: the provider chooses their id and
secret, RFC 7591) and only their redirect URIs are accepted. A nonce is required.

By hand: ``python -m jumelage.testkit.oidc --port 9400 --user '{"sub": "amina.k",
"institution": "<uuid>", "roles": ["coordinator"]}'`` (``--help``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

DEFAULT_AUDIENCE = "jumelage"
ACCESS_TOKEN_CLAIMS = ("institution", "roles", "practitioner")
"""The user's claims an access token carries besides the registered ones (jumelage.auth)."""


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None  # None: a public client (token_endpoint_auth_method "none")
    redirect_uris: tuple[str, ...]


@dataclass
class Flow:
    """What a relying party keeps between sending the person to the provider and the callback."""

    client: RegisteredClient
    redirect_uri: str
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    code_verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_SETTING_UP = threading.Lock()


_SSL: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One TLS context for the kit's clients: httpx makes one a client otherwise, each
    loading the CA store (about 150 ms). The provider is plain HTTP on the loopback."""
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL


def _quiet_import() -> Any:
    """The mock imports ``authlib.jose``, which Authlib 1.9 says is deprecated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock
        import oidc_provider_mock._app as mock_app
    return oidc_provider_mock, mock_app


def _build_app(audience: str, audiences: dict[str, str], token_ttl: timedelta, counters: dict[str, int],
               users: Sequence[dict[str, Any]]) -> Any:
    """The mock's Flask app, PKCE enforced and JWT access tokens (see the module's doc)."""
    import flask
    from authlib.oauth2.rfc7636 import CodeChallenge
    from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
    from joserfc.jwk import KeySet, RSAKey

    oidc_provider_mock, mock_app = _quiet_import()
    challenges: dict[str, tuple[str | None, str | None]] = {}  # code -> (challenge, method)

    class Pkce(CodeChallenge):
        def get_authorization_code_challenge(self, authorization_code: Any) -> str | None:
            return challenges.get(authorization_code.code, (None, None))[0]

        def get_authorization_code_challenge_method(self, authorization_code: Any) -> str | None:
            return challenges.get(authorization_code.code, (None, None))[1]

    signing: list[Any] = [None, None]  # the mock's key, and it imported once (100 ms of RSA checks a time)

    def signing_key() -> Any:
        jwk = flask.g.oidc_provider_mock_storage.jwk
        if signing[0] is not jwk:
            signing[:] = [jwk, RSAKey.import_key(jwk.as_dict(is_private=True))]
        return signing[1]

    base_code = mock_app.OpenIDCode

    class IdTokens(base_code):  # type: ignore[misc, valid-type]
        def resolve_client_private_key(self, client: Any) -> Any:
            return signing_key()  # the mock's own key, imported once; its ID tokens still name no kid

    base_grant = mock_app.AuthorizationCodeGrant

    class PkceGrant(base_grant):  # type: ignore[misc, valid-type]
        # Public clients (no secret) too, as registered: PKCE is then their only proof.
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def __init__(self, request: Any, server: Any) -> None:
            super().__init__(request, server)
            Pkce(required=True)(self)

        def save_authorization_code(self, code: str, request: Any) -> None:
            super().save_authorization_code(code, request)
            data = request.payload.data
            challenges[code] = (data.get("code_challenge"), data.get("code_challenge_method"))

        def delete_authorization_code(self, authorization_code: Any) -> None:
            super().delete_authorization_code(authorization_code)
            challenges.pop(authorization_code.code, None)

    class AccessTokens(JWTBearerTokenGenerator):
        def access_token_generator(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
            return str(super().access_token_generator(client, grant_type, _Subject(user), scope))

        def get_jwks(self) -> Any:
            return KeySet([signing_key()])  # with its kid, which the token's header then names

        def get_audiences(self, client: Any, user: Any, scope: str) -> str:
            return audiences.get(client.get_client_id(), audience)

        def get_extra_claims(self, client: Any, grant_type: str, user: Any, scope: str) -> dict[str, Any]:
            # The issuer as the mock names it in its ID tokens and discovery document.
            claims: dict[str, Any] = {"iss": flask.request.host_url.rstrip("/")}
            for name in ACCESS_TOKEN_CLAIMS:
                if name in user.user.claims:
                    claims[name] = user.user.claims[name]
            return claims

    app = flask.Flask("oidc_provider_mock._app")  # the mock's templates beside that module
    ttl = int(token_ttl.total_seconds())
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = AccessTokens(issuer="", expires_generator=ttl).access_token_generator
    # The mock registers the grant and the OpenID extension its module names when the
    # app is set up: this app's own subclasses, then the module's again (its isinstance
    # checks hold for both).
    with _SETTING_UP:
        mock_app.AuthorizationCodeGrant, mock_app.OpenIDCode = PkceGrant, IdTokens
        try:
            oidc_provider_mock.init_app(
                app, require_client_registration=True, require_nonce=True, issue_refresh_token=False,
                access_token_max_age=token_ttl,
                user_claims=[oidc_provider_mock.User(sub=str(u["sub"]), claims=_claims(**u)) for u in users])
        finally:
            mock_app.AuthorizationCodeGrant, mock_app.OpenIDCode = base_grant, base_code
    app.secret_key = secrets.token_bytes(16)
    # The mock turns Flask's debug mode and Werkzeug's debugger on: a test's 500 is
    # then a plain 500 with its traceback logged, not an interactive page.
    app.debug = False
    inner = getattr(app.wsgi_app, "app", app.wsgi_app)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        counters[path] = counters.get(path, 0) + 1
        return inner(environ, start_response)

    app.wsgi_app = counting  # type: ignore[method-assign]
    return app


def _claims(*, sub: Any = None, institution: Any = None, roles: Sequence[str] = (), practitioner: Any = None,
            **claims: Any) -> dict[str, Any]:
    """A user's claims as our tokens carry them (ids as strings); ``sub`` is not one of them."""
    body: dict[str, Any] = {"roles": [str(r) for r in roles], **claims}
    if institution is not None:
        body["institution"] = str(institution)
    if practitioner is not None:
        body["practitioner"] = str(practitioner)
    return body


@dataclass(frozen=True)
class _Subject:
    """The mock's user as Authlib's token generator asks for it."""

    user: Any

    def get_user_id(self) -> str:
        return str(self.user.sub)


def _quiet_handler() -> Any:
    import werkzeug.serving

    class Handler(werkzeug.serving.WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return Handler


class OidcProvider:
    """The provider on ``127.0.0.1:<port>`` (a free one by default), in a thread.

    ``audience``: the ``aud`` of its access tokens; ``token_ttl``: their lifetime
    and the ID tokens'; ``users``: people its sign-in form offers with one click
    (``{"sub": ..., "institution": ..., "roles": [...]}``; ``set_user`` adds more).
    Use as a context manager, or ``start`` / ``stop``."""

    def __init__(self, *, audience: str = DEFAULT_AUDIENCE, token_ttl: timedelta = timedelta(hours=1),
                 port: int = 0, users: Sequence[dict[str, Any]] = ()) -> None:
        self.audience = audience
        self.requests: dict[str, int] = {}  # path -> requests served (``jwks_fetches``)
        self._audiences: dict[str, str] = {}  # client id -> aud of its access tokens, when not ``audience``
        self._app = _build_app(audience, self._audiences, token_ttl, self.requests, users)
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        import flask

        with self._app.test_request_context("/"):
            self._app.preprocess_request()  # the mock's storage, as its requests see it
            self._storage = flask.g.oidc_provider_mock_storage

    # -- running ------------------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        import werkzeug.serving

        self._server = werkzeug.serving.make_server("127.0.0.1", self._port, self._app, threaded=True,
                                                   request_handler=_quiet_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="oidc-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it is --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the provider is not started"
        return int(self._server.server_port)

    @property
    def issuer(self) -> str:
        """Its issuer identifier (``iss`` of its tokens, OIDC discovery's base)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def jwks_fetches(self) -> int:
        return self.requests.get("/jwks", 0)

    @property
    def key_id(self) -> str:
        """The ``kid`` of the key it signs with now."""
        return str(self._storage.jwk.as_dict()["kid"])

    # -- what it knows ------------------------------------------------------------------------------

    def register_client(self, redirect_uris: Sequence[str], *, public: bool = False,
                        audience: str | None = None) -> RegisteredClient:
        """A client registered as RFC 7591 says (the provider chooses its id and secret);
        ``public``: no secret, PKCE alone (token_endpoint_auth_method ``none``);
        ``audience``: the ``aud`` of the access tokens it gets, if not the provider's
        (an identity provider's per-client audience mapping)."""
        method = "none" if public else "client_secret_basic"
        r = httpx.post(f"{self.issuer}/oauth2/clients", timeout=10, verify=_tls(),
                       json={"redirect_uris": list(redirect_uris), "token_endpoint_auth_method": method})
        r.raise_for_status()
        body = r.json()
        if audience is not None:
            self._audiences[body["client_id"]] = audience
        return RegisteredClient(body["client_id"], None if public else body["client_secret"], tuple(redirect_uris))

    def set_user(self, sub: str, *, institution: Any = None, roles: Sequence[str] = (),
                 practitioner: Any = None, **claims: Any) -> None:
        """Who signs in as ``sub``, and the claims their tokens carry (replacing earlier ones)."""
        body = _claims(institution=institution, roles=roles, practitioner=practitioner, **claims)
        r = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=body, timeout=10, verify=_tls())
        r.raise_for_status()

    def rotate_key(self) -> str:
        """Sign with a new key from now on; the JWKS publishes only it. Its ``kid``."""
        _, _ = _quiet_import()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib import jose

            self._storage.jwk = jose.RSAKey.generate_key(is_private=True)
        return self.key_id

    # -- signing in, as a browser would -------------------------------------------------------------

    async def authorize(self, authorize_url: str, sub: str, *, deny: bool = False) -> str:
        """The person ``sub`` signs in on the provider's form at ``authorize_url``:
        the URL the provider sends the browser back to (the relying party's callback)."""
        async with httpx.AsyncClient(timeout=10, verify=_tls()) as http:
            form = {"action": "deny"} if deny else {"sub": sub}
            r = await http.post(authorize_url, data=form)
        if r.status_code != 302:
            raise AuthorizeRefused(r.status_code, r.text[:500])
        return r.headers["location"]

    def authorize_url(self, flow: Flow, scope: str = "openid") -> str:
        query = {"response_type": "code", "client_id": flow.client.client_id, "redirect_uri": flow.redirect_uri,
                 "scope": scope, "state": flow.state, "nonce": flow.nonce,
                 "code_challenge": flow.code_challenge, "code_challenge_method": "S256"}
        return f"{self.issuer}/oauth2/authorize?{urlencode(query)}"

    async def sign_in(self, client: RegisteredClient, sub: str, *, issuer_host: str | None = None) -> dict[str, Any]:
        """The whole authorization-code flow with PKCE for ``sub``, driven over HTTP
        as a relying party and a browser would: the token response (``access_token``,
        ``id_token``, ...). ``issuer_host``: the Host the token request names (the
        provider names itself after it: a token of the same key, another issuer)."""
        flow = Flow(client, client.redirect_uris[0])
        callback = parse_qs(urlsplit(await self.authorize(self.authorize_url(flow), sub)).query)
        if callback.get("state") != [flow.state]:
            raise AuthorizeRefused(302, f"the callback's state is not the one sent: {callback}")
        return await self.exchange(flow, callback["code"][0], issuer_host=issuer_host)

    async def exchange(self, flow: Flow, code: str, *, code_verifier: str | None = None,
                       issuer_host: str | None = None) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
                "code_verifier": code_verifier or flow.code_verifier, "client_id": flow.client.client_id}
        auth = None if flow.client.client_secret is None else (flow.client.client_id, flow.client.client_secret)
        headers = {"Host": issuer_host} if issuer_host else {}
        async with httpx.AsyncClient(timeout=10, verify=_tls()) as http:
            r = await http.post(f"{self.issuer}/oauth2/token", data=form, auth=auth, headers=headers)
        if r.status_code != 200:
            raise AuthorizeRefused(r.status_code, r.text[:500])
        return dict(r.json())


class AuthorizeRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the provider answered {status}: {body}")
        self.status = status
        self.body = body


@contextmanager
def running_provider(**options: Any) -> Iterator[OidcProvider]:
    with OidcProvider(**options) as provider:
        yield provider


def main(argv: list[str] | None = None) -> int:
    import json

    from jumelage.arguments import ArgumentParser

    parser = ArgumentParser(prog="python -m jumelage.testkit.oidc",
                            description="Run the test kit's OpenID Connect provider (PKCE, JWT access tokens).")
    parser.add_argument("--port", type=int, default=9400, help="port on 127.0.0.1 (default 9400)")
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE, help="aud of the access tokens (AUTH_AUDIENCE)")
    parser.add_argument("--ttl", type=int, default=3600, help="token lifetime in seconds")
    parser.add_argument("--user", action="append", default=[], metavar="JSON",
                        help='a user: {"sub": ..., "institution": ..., "roles": [...], "practitioner": ...}')
    parser.add_argument("--redirect-uri", action="append", default=[],
                        help="register a confidential client with this redirect URI (repeatable) and print it")
    args = parser.parse_args(argv)
    users = [json.loads(raw) for raw in args.user]
    if not all(isinstance(u, dict) and isinstance(u.get("sub"), str) for u in users):
        parser.error("--user: a JSON object with a string 'sub'")
    provider = OidcProvider(audience=args.audience, token_ttl=timedelta(seconds=args.ttl), port=args.port,
                            users=users).start()
    try:
        print(f"issuer   {provider.issuer}\njwks     {provider.jwks_url}\naudience {provider.audience}", flush=True)
        if args.redirect_uri:
            client = provider.register_client(args.redirect_uri)
            print(f"client   id={client.client_id} secret={client.client_secret}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        provider.stop()


if __name__ == "__main__":
    raise SystemExit(main())
