"""A service as deployed behind a real OpenID Connect provider: it verifies the
provider's RS256 access tokens from its JWKS URL, with the issuer and audience of
its settings. Each token here comes from an authorization-code flow with PKCE,
driven over HTTP (jumelage.testkit.oidc): the one exception is the forged token,
signed by a key of our own under the provider's kid."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jumelage.auth import mint
from jumelage.testkit.oidc import OidcProvider, RegisteredClient
from jumelage.testkit.ports import free_port
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import delete_namespace
from jumelage.testkit.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
CALLBACK = "http://127.0.0.1:9/signed-in"  # the web app's callback; nothing needs to answer there
HOST = uuid.uuid4()
COOLDOWN = 1.0  # AUTH_JWKS_COOLDOWN_SECONDS: a rotated-in key is fetched at most this long after the last fetch

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider() as p:
        yield p


@pytest.fixture(scope="module")
def service(provider: OidcProvider, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The convention service, as its own process, told to trust the provider."""
    namespace = f"t{uuid.uuid4().hex[:10]}."
    env = {**os.environ, "AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace,
           "DATA_DIR": str(tmp_path_factory.mktemp("convention")), "HTTP_PORT": str(free_port()),
           "MIGRATE_ON_START": "true", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
           "AUTH_MODE": "rs256", "AUTH_JWKS_URL": provider.jwks_url, "AUTH_ISSUER": provider.issuer,
           "AUTH_AUDIENCE": "jumelage", "AUTH_JWKS_COOLDOWN_SECONDS": str(COOLDOWN)}
    for name in ("DATABASE_URL", "AUTH_SECRET", "AUTH_JWKS_FILE"):
        env.pop(name, None)
    process = ServiceProcess("convention", env, tmp_path_factory.mktemp("logs"), cwd=ROOT)
    process.start()
    try:
        assert process.wait_ready(), f"convention did not start; see {process.log_files[-1]}"
        yield process
    finally:
        process.terminate()
        process.wait_stopped()
        asyncio.run(delete_namespace(amqp_url, namespace))


@pytest.fixture(scope="module")
def client(provider: OidcProvider) -> RegisteredClient:
    return provider.register_client([CALLBACK])


async def _call(service: ServiceProcess, token: str, method: str = "GET", path: str = "/institutions",
                **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        return await http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def _institution() -> dict[str, str]:
    return {"name": f"CMCI {uuid.uuid4().hex[:6]}", "kind": "clinic", "country": "DZ", "city": "Bou Ismaïl"}


async def test_a_token_from_the_sign_in_flow_is_accepted_with_its_roles(
        provider: OidcProvider, service: ServiceProcess, client: RegisteredClient) -> None:
    provider.set_user("nadia.admin", institution=HOST, roles=["administrator"])
    provider.set_user("amina.k", institution=HOST, roles=["coordinator", "a-role-of-another-system"])
    admin = (await provider.sign_in(client, "nadia.admin"))["access_token"]
    coordinator = (await provider.sign_in(client, "amina.k"))["access_token"]
    assert jwt.get_unverified_header(admin)["alg"] == "RS256"

    r = await _call(service, admin, "POST", json=_institution())
    assert r.status_code == 201, r.text
    assert (await _call(service, coordinator)).status_code == 200
    r = await _call(service, coordinator, "POST", json=_institution())
    assert r.status_code == 403, r.text
    # The roles the service read from the token: the coordinator's, and no other system's.
    assert f"amina.k (coordinator) of institution {HOST}" in r.json()["detail"]


@pytest.mark.parametrize("case", ["audience", "issuer", "the ID token"])
async def test_a_token_of_the_provider_not_meant_for_the_service_is_a_401(
        provider: OidcProvider, service: ServiceProcess, client: RegisteredClient, case: str) -> None:
    provider.set_user("nadia.admin", institution=HOST, roles=["administrator"])
    if case == "audience":  # signed by the provider's key, for another API
        elsewhere = provider.register_client([CALLBACK], audience="another-api")
        token, expected = (await provider.sign_in(elsewhere, "nadia.admin"))["access_token"], "audience"
    elif case == "issuer":  # the same key, the provider named under another host
        issued = await provider.sign_in(client, "nadia.admin", issuer_host=f"localhost:{provider.port}")
        token, expected = issued["access_token"], f"not issued by '{provider.issuer}'"
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"http://localhost:{provider.port}"
    else:  # meant for the web app (aud = its client id), not an access token
        token, expected = (await provider.sign_in(client, "nadia.admin"))["id_token"], "audience"
    r = await _call(service, token, "POST", json=_institution())
    assert r.status_code == 401, r.text
    assert expected in r.json()["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_signed_by_another_key_is_a_401(
        provider: OidcProvider, service: ServiceProcess, client: RegisteredClient) -> None:
    provider.set_user("nadia.admin", institution=HOST, roles=["administrator"])
    # Another provider's token, its own key and kid.
    with OidcProvider() as stranger:
        other = stranger.register_client([CALLBACK])
        stranger.set_user("nadia.admin", institution=HOST, roles=["administrator"])
        token = (await stranger.sign_in(other, "nadia.admin"))["access_token"]
    r = await _call(service, token, "POST", json=_institution())
    assert r.status_code == 401 and "no known public key" in r.json()["detail"], r.text
    # Our own key under the provider's kid, with its issuer and audience: the signature fails.
    forged = mint(rsa.generate_private_key(public_exponent=65537, key_size=2048), subject="nadia.admin",
                  institution=HOST, roles=["administrator"], issuer=provider.issuer, algorithm="RS256",
                  kid=provider.key_id)
    r = await _call(service, forged, "POST", json=_institution())
    assert r.status_code == 401 and "signature does not verify" in r.json()["detail"], r.text


async def test_the_jwks_is_fetched_once_and_again_when_the_provider_rotates_its_key(
        provider: OidcProvider, service: ServiceProcess, client: RegisteredClient) -> None:
    provider.set_user("amina.k", institution=HOST, roles=["coordinator"])
    tokens = [(await provider.sign_in(client, "amina.k"))["access_token"] for _ in range(3)]
    before = provider.jwks_fetches
    for token in tokens:  # three tokens, never verified before: the cached JWKS verifies them
        assert (await _call(service, token)).status_code == 200
    assert provider.jwks_fetches == before

    old_kid = provider.key_id
    assert provider.rotate_key() != old_kid
    rotated = (await provider.sign_in(client, "amina.k"))["access_token"]
    assert jwt.get_unverified_header(rotated)["kid"] == provider.key_id
    fetched = provider.jwks_fetches

    async def accepted() -> bool:
        # The unknown kid makes the service fetch the JWKS again once the cooldown allows: no restart.
        r = await _call(service, rotated)
        assert r.status_code in (200, 401), r.text
        return r.status_code == 200

    await eventually(accepted, timeout=30)
    assert provider.jwks_fetches == fetched + 1
    others = await asyncio.gather(*(provider.sign_in(client, "amina.k") for _ in range(2)))
    for issued in others:
        assert (await _call(service, issued["access_token"])).status_code == 200
    assert provider.jwks_fetches == fetched + 1


async def test_tokens_with_made_up_key_ids_do_not_make_the_service_fetch_the_jwks_each_time(
        provider: OidcProvider, service: ServiceProcess, client: RegisteredClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fetched, started = provider.jwks_fetches, time.monotonic()
    for i in range(40):
        forged = mint(stranger, subject="x", roles=["administrator"], issuer=provider.issuer, algorithm="RS256",
                      kid=f"made-up-{i}")
        assert (await _call(service, forged)).status_code == 401
    elapsed = time.monotonic() - started
    assert provider.jwks_fetches - fetched <= 1 + elapsed / COOLDOWN
