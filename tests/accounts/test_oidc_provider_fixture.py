"""The test OpenID Connect provider (tests/support/oidc.py) is a real one: driven with requests.

No portal code here: these tests prove the fixture that the portal's SSO tests sign in against.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet

from tests.support.oidc import FAULTS, OidcProvider
from tests.support.services import free_port

SCOPE = "openid profile email"
# Nothing listens there: the browser (here, requests) is only sent to it, with the code.
PORTAL = f"http://127.0.0.1:{free_port()}"
CALLBACK = f"{PORTAL}/login/sso/callback/"
SIGNED_OUT = f"{PORTAL}/login/"
_names = itertools.count()


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(CALLBACK, post_logout_redirect_uri=SIGNED_OUT) as started:
        yield started


@pytest.fixture(autouse=True)
def _correct_tokens(provider: OidcProvider) -> Iterator[None]:
    yield
    provider.set_fault(None)


@pytest.fixture
def person(provider: OidcProvider) -> str:
    """A new person at the provider for each test (the provider lives for the module)."""
    username = f"alice{next(_names)}"
    provider.add_user(
        username,
        "correct horse",
        groups=["data_scientist", "retail-credit"],
        email=f"{username}@bank.example",
        first_name="Alice",
        last_name="Archer",
    )
    return username


@dataclass
class SignIn:
    session: requests.Session
    nonce: str
    tokens: dict[str, Any]

    @property
    def id_token(self) -> str:
        return str(self.tokens["id_token"])


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _authorize(
    provider: OidcProvider, session: requests.Session, **params: str
) -> requests.Response:
    return session.get(
        provider.authorization_endpoint,
        params={
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": provider.redirect_uri,
            "scope": SCOPE,
            **params,
        },
        allow_redirects=False,
        timeout=30,
    )


def _log_in(
    provider: OidcProvider, session: requests.Session, login_url: str, username: str, password: str
) -> requests.Response:
    """Fill in the provider's login page, as a person would (CSRF token included)."""
    page = session.get(login_url, timeout=30)
    assert page.status_code == 200
    assert "Sign in to Test IdP" in page.text
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    next_field = re.search(r'name="next" value="([^"]*)"', page.text)
    assert match and next_field
    return session.post(
        provider.login_url,
        data={
            "csrfmiddlewaretoken": match.group(1),
            "username": username,
            "password": password,
            "next": html.unescape(next_field.group(1)),
        },
        allow_redirects=False,
        timeout=30,
    )


def _location(provider: OidcProvider, response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    return urljoin(provider.url, response.headers["Location"])


def _asks_to_log_in(provider: OidcProvider, response: requests.Response) -> bool:
    return _location(provider, response).startswith(provider.login_url)


def _code_from(response: requests.Response, state: str) -> str:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def _token(provider: OidcProvider, **data: str) -> requests.Response:
    return requests.post(
        provider.token_endpoint,
        data=data,
        auth=(provider.client_id, provider.client_secret),
        timeout=30,
    )


def sign_in(
    provider: OidcProvider,
    username: str,
    password: str = "correct horse",
    session: requests.Session | None = None,
) -> SignIn:
    """The authorization-code flow with PKCE, logging in at the provider when it asks."""
    session = session or requests.Session()
    verifier, state, nonce = (secrets.token_urlsafe(48) for _ in range(3))
    answer = _authorize(
        provider,
        session,
        state=state,
        nonce=nonce,
        code_challenge=_s256(verifier),
        code_challenge_method="S256",
    )
    if _asks_to_log_in(provider, answer):
        logged_in = _log_in(provider, session, _location(provider, answer), username, password)
        assert logged_in.status_code == 302, "the provider refused the password"
        answer = session.get(_location(provider, logged_in), allow_redirects=False, timeout=30)
    code = _code_from(answer, state)
    tokens = _token(
        provider,
        grant_type="authorization_code",
        code=code,
        redirect_uri=provider.redirect_uri,
        code_verifier=verifier,
    )
    assert tokens.status_code == 200, tokens.text
    return SignIn(session=session, nonce=nonce, tokens=tokens.json())


def _keys(provider: OidcProvider) -> KeySet:
    return KeySet.import_key_set(requests.get(provider.jwks_uri, timeout=30).json())


def _verified(provider: OidcProvider, id_token: str) -> dict[str, Any]:
    return dict(jwt.decode(id_token, _keys(provider), algorithms=["RS256"]).claims)


def _unverified(id_token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = id_token.split(".")

    def part(text: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))

    return part(header), part(payload), signature


def test_discovery_names_the_issuer_and_its_endpoints(provider: OidcProvider) -> None:
    document = requests.get(provider.discovery_url, timeout=30).json()

    assert provider.issuer.startswith("http://127.0.0.1:") and provider.issuer.endswith("/o")
    assert document["issuer"] == provider.issuer
    assert document["authorization_endpoint"] == provider.authorization_endpoint
    assert document["token_endpoint"] == provider.token_endpoint
    assert document["userinfo_endpoint"] == provider.userinfo_endpoint
    assert document["jwks_uri"] == provider.jwks_uri
    assert document["end_session_endpoint"] == provider.end_session_endpoint
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "groups" in document["claims_supported"]


def test_jwks_publishes_one_rs256_public_key(provider: OidcProvider) -> None:
    (key,) = requests.get(provider.jwks_uri, timeout=30).json()["keys"]

    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key  # public part only


def test_code_flow_with_pkce_gives_a_verified_id_token_with_the_groups(
    provider: OidcProvider, person: str
) -> None:
    signed_in = sign_in(provider, person)

    claims = _verified(provider, signed_in.id_token)
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        nonce={"essential": True, "value": signed_in.nonce},
        exp={"essential": True},
    ).validate(claims)
    assert claims["preferred_username"] == person
    assert (claims["given_name"], claims["family_name"]) == ("Alice", "Archer")
    assert claims["email"] == f"{person}@bank.example"
    assert claims["groups"] == ["data_scientist", "retail-credit"]
    assert claims["sub"] and isinstance(claims["sub"], str)
    assert signed_in.tokens["refresh_token"]
    userinfo = requests.get(
        provider.userinfo_endpoint,
        headers={"Authorization": f"Bearer {signed_in.tokens['access_token']}"},
        timeout=30,
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["groups"] == ["data_scientist", "retail-credit"]


def test_an_authorization_request_without_pkce_is_refused(
    provider: OidcProvider, person: str
) -> None:
    session = requests.Session()
    sign_in(provider, person, session=session)  # signed in at the provider

    answer = _authorize(provider, session, state="s", nonce="n")

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]


def test_the_token_endpoint_refuses_a_wrong_code_verifier(
    provider: OidcProvider, person: str
) -> None:
    session = requests.Session()
    sign_in(provider, person, session=session)
    answer = _authorize(
        provider,
        session,
        state="s",
        nonce="n",
        code_challenge=_s256("the verifier the client keeps"),
        code_challenge_method="S256",
    )

    refused = _token(
        provider,
        grant_type="authorization_code",
        code=_code_from(answer, "s"),
        redirect_uri=provider.redirect_uri,
        code_verifier="a verifier an attacker guesses",
    )

    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_a_wrong_password_gets_no_code(provider: OidcProvider, person: str) -> None:
    session = requests.Session()
    answer = _authorize(
        provider, session, state="s", code_challenge=_s256("v"), code_challenge_method="S256"
    )

    refused = _log_in(provider, session, _location(provider, answer), person, "wrong")

    assert refused.status_code == 200
    assert "do not match an active account" in refused.text


def test_set_groups_changes_the_groups_of_the_next_token(
    provider: OidcProvider, person: str
) -> None:
    first = sign_in(provider, person)

    provider.set_groups(person, ["model_ops"])

    assert _verified(provider, sign_in(provider, person).id_token)["groups"] == ["model_ops"]
    refreshed = _token(
        provider, grant_type="refresh_token", refresh_token=first.tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    assert _verified(provider, refreshed.json()["id_token"])["groups"] == ["model_ops"]


def test_a_disabled_person_loses_tokens_and_cannot_sign_in(
    provider: OidcProvider, person: str
) -> None:
    signed_in = sign_in(provider, person)
    bearer = {"Authorization": f"Bearer {signed_in.tokens['access_token']}"}
    assert requests.get(provider.userinfo_endpoint, headers=bearer, timeout=30).status_code == 200

    provider.disable_user(person)

    assert requests.get(provider.userinfo_endpoint, headers=bearer, timeout=30).status_code == 401
    refreshed = _token(
        provider, grant_type="refresh_token", refresh_token=signed_in.tokens["refresh_token"]
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    # Their open session at the provider no longer counts, and the password is refused.
    answer = _authorize(
        provider,
        signed_in.session,
        state="s",
        code_challenge=_s256("v"),
        code_challenge_method="S256",
    )
    assert _asks_to_log_in(provider, answer)
    refused = _log_in(
        provider, signed_in.session, _location(provider, answer), person, "correct horse"
    )
    assert refused.status_code == 200


def test_rp_initiated_logout_ends_the_provider_session_and_returns_to_the_portal(
    provider: OidcProvider, person: str
) -> None:
    signed_in = sign_in(provider, person)

    answer = signed_in.session.get(
        provider.end_session_endpoint,
        params={
            "id_token_hint": signed_in.id_token,
            "post_logout_redirect_uri": SIGNED_OUT,
            "state": "bye",
        },
        allow_redirects=False,
        timeout=30,
    )

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{SIGNED_OUT}?state=bye"
    again = _authorize(
        provider,
        signed_in.session,
        state="s",
        code_challenge=_s256("v"),
        code_challenge_method="S256",
    )
    assert _asks_to_log_in(provider, again)


def test_the_control_endpoint_refuses_anyone_without_the_fixtures_token(
    provider: OidcProvider, person: str
) -> None:
    answer = requests.post(
        f"{provider.url}/control/disable",
        json={"username": person},
        headers={"Authorization": "Bearer guessed"},
        timeout=30,
    )

    assert answer.status_code == 403
    sign_in(provider, person)  # still active


@pytest.fixture(scope="module")
def signed_in_session(provider: OidcProvider) -> tuple[requests.Session, str]:
    """One provider session for all the fault cases: each then costs one authorize and one
    token request."""
    provider.add_user("faulty", "correct horse", groups=["model_ops", "risk_owner"])
    session = requests.Session()
    sign_in(provider, "faulty", session=session)
    return session, "faulty"


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_gives_the_token_it_names(
    provider: OidcProvider, signed_in_session: tuple[requests.Session, str], fault: str
) -> None:
    session, username = signed_in_session
    provider.set_fault(fault)  # type: ignore[arg-type]

    signed_in = sign_in(provider, username, session=session)

    header, claims, signature = _unverified(signed_in.id_token)
    now = time.time()
    keys = _keys(provider)
    if fault == "signed_by_unknown_key":
        assert header["alg"] == "RS256" and signature
        assert header["kid"] not in {key.kid for key in keys.keys}
        with pytest.raises(JoseError):
            jwt.decode(signed_in.id_token, keys, algorithms=["RS256"])
        return
    if fault == "alg_none":
        assert header["alg"] == "none" and signature == ""
        with pytest.raises((UnsupportedAlgorithmError, BadSignatureError, JoseError)):
            jwt.decode(signed_in.id_token, keys, algorithms=["RS256"])
        assert claims["groups"] == ["model_ops", "risk_owner"]
        return
    # Every other fault is in the claims, under a valid signature of the published key.
    assert _verified(provider, signed_in.id_token) == claims
    correct = {
        "iss": provider.issuer,
        "aud": provider.client_id,
        "nonce": signed_in.nonce,
        "groups": ["model_ops", "risk_owner"],
    }
    wrong = {
        "expired": "exp",
        "wrong_audience": "aud",
        "wrong_issuer": "iss",
        "wrong_nonce": "nonce",
        "groups_malformed": "groups",
        "groups_number": "groups",
        "groups_missing": "groups",
    }[fault]
    for name, value in correct.items():
        assert (claims.get(name) == value) is (name != wrong), name
    if fault == "expired":
        assert claims["exp"] < now - 600
    else:
        assert claims["exp"] > now
    if fault == "groups_malformed":
        assert claims["groups"] == "model_ops,risk_owner"
    if fault == "groups_number":
        assert claims["groups"] == 42
    if fault == "groups_missing":
        assert "groups" not in claims


def test_set_fault_none_gives_correct_tokens_again(
    provider: OidcProvider, signed_in_session: tuple[requests.Session, str]
) -> None:
    session, username = signed_in_session
    with provider.fault("wrong_issuer"):
        assert _unverified(sign_in(provider, username, session=session).id_token)[1]["iss"] != (
            provider.issuer
        )

    claims = _verified(provider, sign_in(provider, username, session=session).id_token)

    assert claims["iss"] == provider.issuer
