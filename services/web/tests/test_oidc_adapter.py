"""The web app's OpenID Connect client (web.adapters.oidc) against a real provider
(jumelage.testkit.oidc: oidc-provider-mock, PKCE enforced): the whole flow signs
in, and each way a callback can be wrong is refused with its own reason."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from jumelage.testkit.oidc import Flow, OidcProvider, RegisteredClient
from web.adapters.oidc import OidcClient, Pending, ProviderUnavailable, SignInRefused

CALLBACK = "http://127.0.0.1:9/signin/callback"  # the web app's; nothing needs to answer there
INSTITUTION = "3f0c8a55-7f7c-4c41-9f6e-1b2a4d5e6f70"


def _client(provider: OidcProvider, registered: RegisteredClient, **kwargs: object) -> OidcClient:
    return OidcClient(provider.issuer, registered.client_id, registered.client_secret, CALLBACK,
                      ["openid", "profile"], **kwargs)  # type: ignore[arg-type]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def registered(oidc_provider: OidcProvider) -> RegisteredClient:
    oidc_provider.set_user("amina.k", institution=INSTITUTION, roles=["coordinator", "clinician"])
    return oidc_provider.register_client([CALLBACK])


async def _back_from_provider(provider: OidcProvider, client: OidcClient, sub: str = "amina.k") -> tuple[
        dict[str, str], Pending]:
    url, pending = await client.begin()
    return _query(await provider.authorize(url, sub)), pending


async def test_the_whole_flow_signs_in_with_the_providers_claims(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    url, pending = await client.begin()
    sent = _query(url)
    assert url.startswith(f"{oidc_provider.issuer}/oauth2/authorize?")
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"] != pending.code_verifier
    assert (sent["state"], sent["nonce"], sent["client_id"]) == (pending.state, pending.nonce, registered.client_id)
    assert "code_verifier" not in url
    # What the caller keeps in the cookie goes through JSON and back.
    kept = Pending.from_dict(json.loads(json.dumps(pending.to_dict())))

    signed = await client.finish(_query(await oidc_provider.authorize(url, "amina.k")), kept)
    assert signed.subject == "amina.k"
    assert signed.id_token_claims["institution"] == INSTITUTION
    assert signed.id_token_claims["roles"] == ["coordinator", "clinician"]
    assert signed.id_token_claims["aud"] in (registered.client_id, [registered.client_id])
    assert time.time() + 3000 < signed.expires_at <= time.time() + 3600
    # The access token is the services' bearer: RS256, for the audience "jumelage", with the same claims.
    access = jwt.decode(signed.access_token, options={"verify_signature": False})
    assert (access["aud"], access["iss"], access["sub"]) == ("jumelage", oidc_provider.issuer, "amina.k")
    assert access["roles"] == ["coordinator", "clinician"]
    # Discovery and keys were fetched once; a second sign-in fetches neither.
    await client.finish(*await _back_from_provider(oidc_provider, client))
    assert oidc_provider.requests["/.well-known/openid-configuration"] == 1
    assert oidc_provider.jwks_fetches == 1


async def test_a_public_client_signs_in_with_pkce_alone(oidc_provider: OidcProvider) -> None:
    oidc_provider.set_user("amina.k", institution=INSTITUTION, roles=["coordinator"])
    public = oidc_provider.register_client([CALLBACK], public=True)
    assert public.client_secret is None
    client = _client(oidc_provider, public)
    assert (await client.finish(*await _back_from_provider(oidc_provider, client))).subject == "amina.k"


async def test_a_wrong_state_is_refused_before_the_code_is_exchanged(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    params, pending = await _back_from_provider(oidc_provider, client)
    for state in ({**params, "state": "another-sign-in"}, {k: v for k, v in params.items() if k != "state"}):
        with pytest.raises(SignInRefused, match="state"):
            await client.finish(state, pending)
    assert "/oauth2/token" not in oidc_provider.requests
    # Another browser's pending sign-in (its own state) is refused the same way.
    _, other = await client.begin()
    with pytest.raises(SignInRefused, match="state does not match"):
        await client.finish(params, other)


async def test_a_replayed_code_is_refused(oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    params, pending = await _back_from_provider(oidc_provider, client)
    await client.finish(params, pending)
    with pytest.raises(SignInRefused, match="refused the code: invalid_grant") as refused:
        await client.finish(params, pending)
    assert params["code"] not in refused.value.reason


async def test_a_tampered_verifier_is_refused_by_the_provider(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    params, pending = await _back_from_provider(oidc_provider, client)
    tampered = dataclasses.replace(pending, code_verifier=pending.code_verifier[:-4] + "AAAA")
    with pytest.raises(SignInRefused, match="invalid_grant.*Code challenge failed"):
        await client.finish(params, tampered)


async def test_a_nonce_that_is_not_this_sign_ins_is_refused(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    params, pending = await _back_from_provider(oidc_provider, client)
    with pytest.raises(SignInRefused, match="nonce does not match"):
        await client.finish(params, dataclasses.replace(pending, nonce="a-nonce-of-another-sign-in"))


class _SwapIdToken(httpx.AsyncBaseTransport):
    """The network between the web app and the provider, handing back another ID
    token than the provider's in the token response (a mix-up, or a token injected)."""

    def __init__(self, swap: Callable[[], str]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._swap = swap

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/oauth2/token"):
            return response
        body = json.loads(await response.aread())
        if "id_token" in body:
            body["id_token"] = self._swap()
        return httpx.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_an_id_token_for_another_client_is_refused(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    """The provider's own ID token, for the same person and the same nonce, but
    issued to another client: only its audience is wrong."""
    other = oidc_provider.register_client([CALLBACK])
    theirs: dict[str, str] = {}
    client = _client(oidc_provider, registered, transport=_SwapIdToken(lambda: theirs["id_token"]))
    params, pending = await _back_from_provider(oidc_provider, client)
    flow = Flow(other, CALLBACK, nonce=pending.nonce)
    code = _query(await oidc_provider.authorize(oidc_provider.authorize_url(flow), "amina.k"))["code"]
    theirs.update(await oidc_provider.exchange(flow, code))
    assert jwt.decode(theirs["id_token"], options={"verify_signature": False})["nonce"] == pending.nonce
    with pytest.raises(SignInRefused, match="not meant for this application"):
        await client.finish(params, pending)


async def test_an_id_token_signed_by_another_provider_is_refused(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    with OidcProvider() as stranger:
        stranger.set_user("amina.k", roles=["administrator"])
        elsewhere = stranger.register_client([CALLBACK])
        forged = (await stranger.sign_in(elsewhere, "amina.k"))["id_token"]
    client = _client(oidc_provider, registered, transport=_SwapIdToken(lambda: forged))
    with pytest.raises(SignInRefused, match="signature does not verify|does not publish"):
        await client.finish(*await _back_from_provider(oidc_provider, client))


async def test_a_key_the_provider_rotated_in_is_fetched_and_accepted(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    await client.finish(*await _back_from_provider(oidc_provider, client))
    oidc_provider.rotate_key()
    signed = await client.finish(*await _back_from_provider(oidc_provider, client))
    assert signed.subject == "amina.k"
    assert oidc_provider.jwks_fetches == 2


async def test_the_person_denying_and_a_forgotten_sign_in_are_refused(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    url, pending = await client.begin()
    with pytest.raises(SignInRefused, match="refused the sign-in: access_denied"):
        await client.finish(_query(await oidc_provider.authorize(url, "amina.k", deny=True)), pending)
    for kept in (None, {}, {"state": 1, "nonce": "n", "code_verifier": "v", "started_at": 0}):
        with pytest.raises(SignInRefused, match="start again"):
            Pending.from_dict(kept)
    stale = dataclasses.replace(pending, started_at=time.time() - 3600)
    with pytest.raises(SignInRefused, match="took more than"):
        await client.finish({"state": stale.state, "code": "x"}, stale)


class _Misnamed(httpx.AsyncBaseTransport):
    """A discovery document naming another issuer than the one it was asked of."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            body = (await http.get(str(request.url))).json()
        return httpx.Response(200, json={**body, "issuer": "https://idp.example"})


async def test_a_provider_that_names_another_issuer_or_is_down_is_unavailable(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    misnamed = _client(oidc_provider, registered, transport=_Misnamed())
    with pytest.raises(ProviderUnavailable, match="names the issuer 'https://idp.example'"):
        await misnamed.begin()
    down = OidcClient("http://127.0.0.1:9", registered.client_id, None, CALLBACK)
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        await down.begin()


async def test_the_logout_url_ends_the_providers_session(
        oidc_provider: OidcProvider, registered: RegisteredClient) -> None:
    client = _client(oidc_provider, registered)
    signed = await client.finish(*await _back_from_provider(oidc_provider, client))
    url = await client.logout_url(id_token_hint=signed.id_token, post_logout_redirect_uri="http://127.0.0.1:9/",
                                  state="s1")
    assert url is not None and url.startswith(f"{oidc_provider.issuer}/oauth2/end_session?")
    assert _query(url)["id_token_hint"] == signed.id_token
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
    assert page.status_code == 200 and "http://127.0.0.1:9/?state=s1" in page.text
