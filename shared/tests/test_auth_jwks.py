"""RS256 tokens from a JWKS URL, against a real OpenID Connect provider
(jumelage.testkit.oidc, in a thread): its tokens verify; a key it rotates in is
fetched once the cooldown allows; tokens with made-up key ids cost one fetch per
cooldown; a token that names no key verifies against a JWKS of one key, as it
does from a JWKS file."""

from __future__ import annotations

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from jumelage.auth import CallerDep, KeysUnavailable, Role, TokenError, TokenVerifier, mint
from jumelage.settings import ServiceSettings
from jumelage.testkit.oidc import OidcProvider
from jumelage.testkit.waiting import eventually

CALLBACK = "http://127.0.0.1:9/signed-in"
INSTITUTION = "0d9f3a4e-5b6c-4d7e-8f90-a1b2c3d4e5f6"


def _verifier(provider: OidcProvider, **over: object) -> TokenVerifier:
    return TokenVerifier(ServiceSettings(auth_mode="rs256", auth_jwks_url=provider.jwks_url,
                                         auth_issuer=provider.issuer, **over))  # type: ignore[arg-type]


async def _token(provider: OidcProvider) -> str:
    client = provider.register_client([CALLBACK])
    return str((await provider.sign_in(client, "amina.k"))["access_token"])


@pytest.fixture
def provider(oidc_provider: OidcProvider) -> OidcProvider:
    oidc_provider.set_user("amina.k", institution=INSTITUTION, roles=["coordinator"])
    return oidc_provider


async def test_the_providers_tokens_verify_with_their_claims(provider: OidcProvider) -> None:
    caller = await _verifier(provider).verify(await _token(provider))
    assert (caller.subject, str(caller.institution_id), caller.roles) == (
        "amina.k", INSTITUTION, frozenset({Role.coordinator}))


async def test_a_rotated_key_is_fetched_once_the_cooldown_allows(provider: OidcProvider) -> None:
    verifier = _verifier(provider, auth_jwks_cooldown_seconds=0.5)
    await verifier.verify(await _token(provider))
    provider.rotate_key()
    rotated = await _token(provider)
    fetched = provider.jwks_fetches

    async def accepted() -> bool:
        # Refused while the cooldown runs, with no fetch meanwhile; then one fetch and accepted.
        try:
            return (await verifier.verify(rotated)).subject == "amina.k"
        except TokenError as refused:
            assert "unknown kid" in str(refused) and provider.jwks_fetches == fetched
            return False

    await eventually(accepted, timeout=10)
    assert provider.jwks_fetches == fetched + 1


async def test_made_up_key_ids_cost_one_fetch_per_cooldown(provider: OidcProvider) -> None:
    verifier = _verifier(provider)  # the default cooldown: 30 s
    await verifier.verify(await _token(provider))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fetched = provider.jwks_fetches
    for i in range(50):
        forged = mint(stranger, subject="x", roles=["administrator"], algorithm="RS256", kid=f"made-up-{i}",
                      issuer=provider.issuer)
        with pytest.raises(TokenError, match="unknown kid"):
            await verifier.verify(forged)
    assert provider.jwks_fetches == fetched  # the first fetch started the cooldown


async def test_a_token_naming_no_key_verifies_against_a_jwks_of_one_key(provider: OidcProvider) -> None:
    """The provider's ID tokens name no kid: the JWKS's one key verifies them (and
    here refuses them for their audience, the web app's client id)."""
    client = provider.register_client([CALLBACK])
    id_token = (await provider.sign_in(client, "amina.k"))["id_token"]
    assert "kid" not in jwt.get_unverified_header(id_token)
    with pytest.raises(TokenError, match="not meant for this audience"):
        await _verifier(provider).verify(id_token)
    caller = await _verifier(provider, auth_audience=client.client_id).verify(id_token)
    assert caller.roles == frozenset({Role.coordinator})


async def test_a_provider_whose_keys_cannot_be_fetched_is_a_503_not_a_401(provider: OidcProvider) -> None:
    """Neither taken nor refused: the web app must not sign the person out for it."""
    token = await _token(provider)
    verifier = _verifier(provider)
    provider.stop()
    with pytest.raises(KeysUnavailable, match="cannot be fetched"):
        await verifier.verify(token)

    app = FastAPI()

    class Runtime:
        pass

    app.state.runtime = Runtime()
    app.state.runtime.verifier = verifier

    @app.get("/whoami")
    async def whoami(caller: CallerDep) -> dict[str, str]:
        return {"subject": caller.subject}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503 and "keys cannot be fetched" in r.json()["detail"], r.text
    assert r.headers["retry-after"] == "5"
