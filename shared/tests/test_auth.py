"""Bearer tokens: what is accepted, what is refused and with which message, HS256 and
RS256 (JWKS file and URL), the mint command, and secrets kept out of logs and answers."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI

from jumelage.auth import AuthConfigError, Caller, CallerDep, Role, TokenError, TokenVerifier, mint, require
from jumelage.http import install_error_handlers
from jumelage.logging import configure_logging
from jumelage.settings import ServiceSettings
from jumelage.testkit.waiting import eventually

SECRET = "a-local-secret-of-more-than-32-characters"
INSTITUTION = uuid.uuid4()


def hs256(**over: Any) -> ServiceSettings:
    return ServiceSettings(auth_secret=SECRET, **over)


async def verify(settings: ServiceSettings, token: str) -> Caller:
    return await TokenVerifier(settings).verify(token)


async def test_a_good_token_names_the_caller() -> None:
    practitioner = uuid.uuid4()
    token = mint(SECRET, subject="amina", institution=INSTITUTION, roles=["coordinator", "clinician"],
                 practitioner=practitioner)
    caller = await verify(hs256(), token)
    assert caller == Caller("amina", INSTITUTION, frozenset({Role.coordinator, Role.clinician}), practitioner)
    assert caller.acts_for([INSTITUTION], Role.clinician) and not caller.acts_for([uuid.uuid4()], Role.clinician)
    assert not caller.acts_for([INSTITUTION], Role.funder)


def _claims(**over: Any) -> dict[str, Any]:
    import time

    now = int(time.time())
    # Valid for a day: the tokens below are made when the module is collected, and a busy suite
    # may run these tests many minutes later (a minute's expiry made them fail as "expired").
    return {"sub": "amina", "roles": ["coordinator"], "aud": "jumelage", "iat": now, "exp": now + 86_400, **over}


REFUSED = {
    "expired": (jwt.encode(_claims(exp=1_000), SECRET, "HS256"), "expired"),
    "wrong secret": (jwt.encode(_claims(), "x" * 40, "HS256"), "signature does not verify"),
    "not a JWT": ("not-a-token", "malformed"),
    "unsigned": (jwt.encode(_claims(), None, "none"), "not signed with HS256"),
    "another audience": (jwt.encode(_claims(aud="other"), SECRET, "HS256"), "audience"),
    "no expiry": (jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET, "HS256"), "'exp'"),
    "no subject": (jwt.encode({k: v for k, v in _claims().items() if k != "sub"}, SECRET, "HS256"), "'sub'"),
    "institution not an id": (jwt.encode(_claims(institution="CHU Oran"), SECRET, "HS256"), "'institution'"),
    "roles not a list": (jwt.encode(_claims(roles={"a": 1}), SECRET, "HS256"), "'roles'"),
    "not yet valid": (jwt.encode(_claims(nbf=_claims()["iat"] + 3600), SECRET, "HS256"), "not valid yet"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_bad_token_is_refused_with_a_message_that_says_why(case: str) -> None:
    token, message = REFUSED[case]
    with pytest.raises(TokenError, match=message) as refused:
        await verify(hs256(), token)
    assert token not in str(refused.value) and SECRET not in str(refused.value)


def _signed(**claims: Any) -> str:
    """Signed as given: ``jwt.encode`` refuses some malformed registered claims itself."""
    return jwt.api_jws.encode(json.dumps(_claims(**claims)).encode(), SECRET, "HS256")


HUGE = "x" * 100_000
# Every claim the services read, in every wrong shape: a correctly signed token is still input.
MALFORMED_CLAIMS = {
    "sub": [5, 1.5, True, ["amina"], {"a": 1}, "", "   ", HUGE, "amina\nadmin", "\ud800"],
    "institution": [5, True, [str(INSTITUTION)], {"id": str(INSTITUTION)}, [[str(INSTITUTION)]], "CHU Oran",
                    HUGE, str(INSTITUTION) * 2],
    "practitioner": [5, [str(INSTITUTION)], {"a": 1}, "Dr Frigiola", HUGE],
    "roles": [{"a": 1}, [{"a": 1}], [["coordinator"]], ["coordinator", 5], [None], [True], 5, True,
              ["coordinator"] * 101, ["x" * 101], "coordinator " * 10_000, [HUGE]],
    "exp": ["tomorrow", [1], {"a": 1}],
    "nbf": ["now", [1]],
    "iat": ["now", {"a": 1}],
    "jti": [[1], {"a": 1}],
}
MALFORMED = [(claim, value) for claim, values in MALFORMED_CLAIMS.items() for value in values]


@pytest.mark.parametrize(("claim", "value"), MALFORMED, ids=[f"{c}-{i}" for i, (c, _) in enumerate(MALFORMED)])
async def test_a_signed_token_with_a_malformed_claim_is_refused_naming_the_claim(claim: str, value: Any) -> None:
    with pytest.raises(TokenError, match=f"'{claim}' claim") as refused:
        await verify(hs256(), _signed(**{claim: value}))
    assert len(str(refused.value)) < 200, "the message never quotes the value"


async def test_roles_may_be_a_space_separated_string_or_null_and_null_ids_are_absent() -> None:
    caller = await verify(hs256(), _signed(roles="coordinator clinician", institution=None, practitioner=""))
    assert caller.roles == frozenset({Role.coordinator, Role.clinician}) and caller.institution_id is None
    assert (await verify(hs256(), _signed(roles=None))).roles == frozenset()


async def test_issuer_is_checked_when_set_and_unknown_roles_grant_nothing() -> None:
    token = mint(SECRET, subject="amina", roles=["coordinator", "superuser"], issuer="someone")
    with pytest.raises(TokenError, match="not issued by 'jumelage-idp'"):
        await verify(hs256(auth_issuer="jumelage-idp"), token)
    assert (await verify(hs256(), token)).roles == frozenset({Role.coordinator})


def test_a_service_refuses_to_start_without_a_way_to_verify_tokens(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="AUTH_SECRET"):
        TokenVerifier(ServiceSettings())
    with pytest.raises(AuthConfigError, match="at least 32"):
        TokenVerifier(ServiceSettings(auth_secret="short"))
    with pytest.raises(AuthConfigError, match="AUTH_JWKS_FILE or AUTH_JWKS_URL"):
        TokenVerifier(ServiceSettings(auth_mode="rs256"))
    (tmp_path / "jwks.json").write_text("{not json")
    with pytest.raises(AuthConfigError, match="AUTH_JWKS_FILE"):
        TokenVerifier(ServiceSettings(auth_mode="rs256", auth_jwks_file=tmp_path / "jwks.json"))


# -- RS256 -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """Two RSA key pairs; the JWKS publishes the first only."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": "idp-2026", "use": "sig", "alg": "RS256"})
    return {"private": private, "stranger": stranger, "jwks": {"keys": [public]}}


async def test_rs256_tokens_verify_against_a_jwks_file(keys: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys["jwks"]))
    settings = ServiceSettings(auth_mode="rs256", auth_jwks_file=path)
    good = mint(keys["private"], subject="idp-user", institution=INSTITUTION, roles=["funder"],
                algorithm="RS256", kid="idp-2026")
    assert (await verify(settings, good)).roles == frozenset({Role.funder})
    forged = mint(keys["stranger"], subject="idp-user", roles=["administrator"], algorithm="RS256", kid="idp-2026")
    with pytest.raises(TokenError, match="signature"):
        await verify(settings, forged)
    with pytest.raises(TokenError, match="unknown kid"):
        await verify(settings, mint(keys["private"], subject="x", algorithm="RS256", kid="other"))
    # The shared secret is no way in when public keys are configured (algorithm confusion).
    with pytest.raises(TokenError, match="not signed with RS256"):
        await verify(settings, mint(SECRET, subject="x", roles=["administrator"]))


@pytest.fixture
def jwks_url(keys: dict[str, Any]) -> Iterator[str]:
    body = json.dumps(keys["jwks"]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()


async def test_rs256_tokens_verify_against_a_jwks_url(keys: dict[str, Any], jwks_url: str) -> None:
    settings = ServiceSettings(auth_mode="rs256", auth_jwks_url=jwks_url)
    verifier = TokenVerifier(settings)
    good = mint(keys["private"], subject="idp-user", roles=["supervisor"], algorithm="RS256", kid="idp-2026")
    assert (await verifier.verify(good)).subject == "idp-user"
    with pytest.raises(TokenError, match="unknown kid"):
        await verifier.verify(mint(keys["stranger"], subject="x", algorithm="RS256", kid="rotated-away"))


# -- over HTTP ---------------------------------------------------------------------------------------

class _Runtime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.verifier = TokenVerifier(settings)


def _app() -> FastAPI:
    from jumelage.auth import authenticated

    app = FastAPI()
    app.state.runtime = _Runtime(hs256())
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(caller: CallerDep) -> dict[str, Any]:
        return {"subject": caller.subject}

    @router.post("/institutions", dependencies=[require(Role.administrator, to="register institutions")])
    async def register() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(router, dependencies=[Depends(authenticated)])
    return app


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("convention", "json", "DEBUG")
    lines = Lines()
    lines.setFormatter(root.handlers[0].formatter)
    root.addHandler(lines)
    try:
        yield lines
    finally:
        root.handlers[:], root.level = saved
        structlog.reset_defaults()


async def test_401_and_403_over_http_and_no_secret_or_token_in_logs_or_answers(log_lines: Lines) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        r = await client.get("/whoami")
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")
        forged = jwt.encode(_claims(), "y" * 40, "HS256")
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {forged}"})
        assert (r.status_code, r.json()["detail"]) == (401, "the token's signature does not verify")
        good = mint(SECRET, subject="amina", institution=INSTITUTION, roles=["coordinator"])
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {good}"})
        assert r.json() == {"subject": "amina"}
        r = await client.post("/institutions", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 403
        assert r.json()["detail"] == (f"amina (coordinator) of institution {INSTITUTION} may not register "
                                      "institutions (needs the role administrator)")
    text = "\n".join(log_lines.lines)
    assert "access refused" in text and "token refused" in text  # the refusals are logged...
    for secret in (SECRET, good, forged, good.split(".")[2], forged.split(".")[2]):
        assert secret not in text  # ...without the secret or the tokens
    assert SECRET not in repr(hs256()) and SECRET not in str(hs256().model_dump())


@pytest.fixture
async def served() -> AsyncIterator[str]:
    """``_app()`` served by uvicorn on a loopback port: the real HTTP stack, not an ASGI shortcut."""
    import asyncio

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=0, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _true(server.started), timeout=20)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _true(value: bool) -> bool:
    return value


async def test_malformed_claims_are_a_401_naming_the_claim_on_every_route_over_http(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        for roles in ([{"a": 1}], [["coordinator"]]):
            token = _signed(roles=roles, institution=str(INSTITUTION))
            for method, path in (("GET", "/whoami"), ("POST", "/institutions")):
                r = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                assert "'roles' claim" in r.json()["detail"]
                assert r.headers["www-authenticate"].startswith("Bearer")
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {_signed(institution=[1])}"})
        assert (r.status_code, r.json()["detail"]) == (401, "the token's 'institution' claim is not an id")
        # The connection still serves: the next request on it is answered.
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {_signed()}"})
        assert r.json() == {"subject": "amina"}


@pytest.mark.system  # starts a process
def test_the_mint_command_makes_tokens_the_services_accept(tmp_path: Path) -> None:
    secret_file = tmp_path / "auth-secret"
    secret_file.write_text(SECRET + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "jumelage.auth", "mint", "--secret-file", str(secret_file), "--subject", "karim",
         "--institution", str(INSTITUTION), "--role", "coordinator", "--role", "clinician", "--ttl", "600"],
        capture_output=True, text=True, check=True)
    claims = jwt.decode(out.stdout.strip(), SECRET, algorithms=["HS256"], audience="jumelage")
    assert (claims["sub"], claims["institution"], claims["roles"]) == ("karim", str(INSTITUTION),
                                                                        ["coordinator", "clinician"])
    assert 590 <= claims["exp"] - claims["iat"] <= 600
    no_secret = subprocess.run([sys.executable, "-m", "jumelage.auth", "mint", "--subject", "x"],
                               capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert no_secret.returncode == 2 and "AUTH_SECRET" in no_secret.stderr


async def test_a_verified_token_is_remembered_until_it_expires_and_a_refused_one_never(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import jumelage.auth

    decoded: list[str] = []
    real_decode = jwt.decode
    monkeypatch.setattr(jumelage.auth.jwt, "decode", lambda token, *a, **kw: decoded.append(token) or
                        real_decode(token, *a, **kw))
    verifier = TokenVerifier(hs256(auth_leeway_seconds=0))
    token = mint(SECRET, subject="amina", roles=["coordinator"], ttl_seconds=60)
    assert (await verifier.verify(token)).subject == (await verifier.verify(token)).subject == "amina"
    assert decoded == [token]  # checked once, then remembered

    wrong = mint("another-secret-of-more-than-32-characters", subject="amina", roles=["administrator"])
    for _ in range(2):
        with pytest.raises(TokenError, match="signature"):
            await verifier.verify(wrong)
    assert decoded == [token, wrong, wrong]  # a refusal is not remembered

    exp = real_decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(jumelage.auth.time, "time", lambda: exp + 1.0)  # past its exp: checked again
    await verifier.verify(token)
    assert decoded == [token, wrong, wrong, token]
