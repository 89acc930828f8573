"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in its own
process, tests/support/oidc.py), with the portal served by pytest-django's live server.

The browser's part is played by a ``requests.Session``: it follows the same redirects, posts the
provider's login form and carries both sites' cookies (the provider's have their own names).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import ExternalIdentity, GroupMapping, Team
from apps.accounts.roles import Role, roles_of
from apps.audit.models import AuditEvent
from tests.factories import TeamFactory, UserFactory
from tests.support.oidc import OidcProvider
from tests.support.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"
DATA_SCIENTISTS = "mlops-data-scientists"
MODEL_OPS = "mlops-model-ops"
RETAIL = "team-retail-credit"
FRAUD = "team-fraud"


@pytest.fixture(scope="module")
def provider(live_server) -> Iterator[OidcProvider]:  # type: ignore[no-untyped-def]
    with OidcProvider(
        f"{live_server.url}/login/sso/callback/",
        post_logout_redirect_uri=f"{live_server.url}/login/",
    ) as running:
        yield running


@pytest.fixture
def portal(live_server, provider: OidcProvider, settings):  # type: ignore[no-untyped-def]
    """The portal pointed at the provider, with the bank's group mapping."""
    settings.PORTAL_OIDC_DISCOVERY_URL = provider.discovery_url
    settings.PORTAL_OIDC_CLIENT_ID = provider.client_id
    settings.PORTAL_OIDC_CLIENT_SECRET = provider.client_secret
    settings.PORTAL_OIDC_PROVIDER_NAME = "Test IdP"
    settings.PORTAL_ACCESS_CONTACT = "the MLOps service desk"
    provider.set_fault(None)
    retail = TeamFactory(slug="retail-credit", name="Retail credit")
    fraud = TeamFactory(slug="fraud", name="Fraud detection")
    GroupMapping.objects.create(provider_group=DATA_SCIENTISTS, role=Role.DATA_SCIENTIST)
    GroupMapping.objects.create(provider_group=MODEL_OPS, role=Role.MODEL_OPS)
    GroupMapping.objects.create(provider_group=RETAIL, team=retail)
    GroupMapping.objects.create(provider_group=FRAUD, team=fraud)
    provider.add_user(
        "alice",
        PASSWORD,
        groups=[DATA_SCIENTISTS, RETAIL, "all-staff"],
        email="alice@bank.example",
        first_name="Alice",
        last_name="Martin",
    )
    yield live_server.url
    provider.set_fault(None)


def to_callback(session: requests.Session, base: str, username: str = "alice") -> str:
    """Start at the portal, sign in at the provider, and return the provider's answer (the
    callback address) without delivering it to the portal."""
    page = session.get(f"{base}/login/sso/?next=/", timeout=30)
    assert page.status_code == 200 and "Sign in to Test IdP" in page.text, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    after = re.search(r'name="next" value="([^"]*)"', page.text)
    assert token and after
    response = session.post(
        urljoin(page.url, "/accounts/login/"),
        data={
            "csrfmiddlewaretoken": token[1],
            "username": username,
            "password": PASSWORD,
            "next": html.unescape(after[1]),
        },
        allow_redirects=False,
        timeout=30,
    )
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(f"{base}/login/sso/callback/"):
            return location
        response = session.get(location, allow_redirects=False, timeout=30)
    raise AssertionError(f"no way back to the portal: {response.status_code} {response.text[:500]}")


def sign_in(base: str, username: str = "alice") -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    answer = session.get(to_callback(session, base, username), timeout=30)
    return session, answer


def teams_of(user: User) -> list[str]:
    return sorted(Team.objects.filter(group__user=user).values_list("slug", flat=True))


def failures() -> list[str]:
    return [e.after["reason"] for e in AuditEvent.objects.filter(action="auth.sso_failed")]


def test_alice_signs_in_through_the_provider_with_role_and_team_from_claims(portal, provider):
    session, dashboard = sign_in(portal)

    assert dashboard.status_code == 200 and dashboard.url == f"{portal}/"
    assert "My work" in dashboard.text
    assert "Your workspace as Data scientist, in Retail credit." in dashboard.text
    alice = User.objects.get(username="alice")
    assert roles_of(alice) == [Role.DATA_SCIENTIST] and teams_of(alice) == ["retail-credit"]
    assert alice.get_full_name() == "Alice Martin" and not alice.has_usable_password()
    # The link names the issuer, so the same "sub" at another issuer is another person.
    assert ExternalIdentity.objects.get(user=alice).provider == f"oidc:{provider.issuer}"
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["user.sso_created", "user.sso_access_changed", "auth.login"]
    # The tokens stay on the server: nothing of them in the page or the cookies.
    assert "id_token" not in dashboard.text and "eyJ" not in dashboard.text
    assert all(not cookie.value.startswith("eyJ") for cookie in session.cookies)


def test_moving_alice_to_another_group_changes_her_rights_at_the_next_sign_in(portal, provider):
    sign_in(portal)
    provider.set_groups("alice", [MODEL_OPS, FRAUD])

    _, dashboard = sign_in(portal)

    assert "Your workspace as Model operations, in Fraud detection." in dashboard.text
    alice = User.objects.get(username="alice")
    assert roles_of(alice) == [Role.MODEL_OPS] and teams_of(alice) == ["fraud"]
    moved = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id")[0]
    assert moved.actor is None
    assert moved.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert moved.after["roles"] == ["model_ops"] and moved.after["teams"] == ["fraud"]
    assert moved.after["by"] == f"the identity provider (oidc:{provider.issuer})"


FORGED = {
    "signed_by_unknown_key": ("key not in the provider's key set", "signature does not verify"),
    "alg_none": ("algorithm not accepted",),
    "expired": ("ID token expired",),
    "wrong_audience": ("claim 'aud' wrong",),
    "wrong_issuer": ("claim 'iss' wrong",),
    "wrong_nonce": ("claim 'nonce' wrong",),
}


@pytest.mark.parametrize("fault", list(FORGED))
def test_a_forged_id_token_is_refused_and_audited(portal, provider, fault):
    provider.set_fault(fault)  # type: ignore[arg-type]
    session, answer = sign_in(portal)

    assert answer.status_code == 401, answer.text[:500]
    assert "could not be trusted" in answer.text and 'href="/login/"' in answer.text
    assert "_auth_user_id" not in answer.text
    reasons = failures()
    assert len(reasons) == 1 and any(part in reasons[0] for part in FORGED[fault]), reasons
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    # Still signed out: the dashboard sends the visitor to the sign-in page.
    assert session.get(f"{portal}/", timeout=30).url.startswith(f"{portal}/login/")


def test_a_replayed_answer_is_refused_with_a_log_line_not_an_audit_event(portal, caplog):
    session = requests.Session()
    callback = to_callback(session, portal)
    assert session.get(callback, timeout=30).url == f"{portal}/"

    again = session.get(callback, timeout=30)
    stranger = requests.get(callback, timeout=30)

    for answer in (again, stranger):
        assert answer.status_code == 400
        assert "unknown, expired or was already used" in answer.text
    # Anyone can send the callback address anything: no audit row for an answer this session
    # did not start (or already used), so the audit trail cannot be flooded.
    assert failures() == []
    assert caplog.text.count("callback without a state of this session") == 2
    assert AuditEvent.objects.filter(action="auth.login").count() == 1


def test_an_error_answer_without_a_state_of_this_session_is_not_audited(portal):
    for n in range(3):
        answer = requests.get(
            f"{portal}/login/sso/callback/?error=access_denied&error_description=flood{n}",
            timeout=30,
        )
        assert answer.status_code == 400
    assert failures() == []


def started_state(session: requests.Session, base: str) -> str:
    """Start a sign-in at the portal and return the state it sent to the provider."""
    start = session.get(f"{base}/login/sso/?next=/", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text[:300]
    found = re.search(r"[?&]state=([^&]+)", start.headers["Location"])
    assert found
    return found[1]


@pytest.mark.parametrize(
    ("error", "recorded", "shown"),
    [
        ("access_denied", "access_denied", "The sign-in was cancelled or not allowed at Test IdP."),
        ("temporarily_unavailable", "temporarily_unavailable", "Test IdP is busy"),
        ("<script>x</script>", "unreadable", "Test IdP did not sign you in."),
        ("weird_code'><b>", "weird_code", "Test IdP did not sign you in."),
    ],
)
def test_the_providers_error_answer_is_refused_and_audited_without_its_description(
    portal, error, recorded, shown
):
    session = requests.Session()
    state = started_state(session, portal)
    answer = session.get(
        f"{portal}/login/sso/callback/",
        params={"state": state, "error": error, "error_description": "<i>call 555-HACK</i>"},
        timeout=30,
    )
    assert answer.status_code == 401 and shown in answer.text
    assert "555-HACK" not in answer.text and "<script>x" not in answer.text
    assert failures() == [f"the provider answered with an error: {recorded}"]
    assert "555-HACK" not in str(AuditEvent.objects.get(action="auth.sso_failed").after)
    # The state was used up: the same answer again is refused without another audit row.
    again = session.get(
        f"{portal}/login/sso/callback/", params={"state": state, "error": error}, timeout=30
    )
    assert again.status_code == 400 and len(failures()) == 1


def test_an_unexpected_error_during_the_callback_is_an_audited_refusal_not_a_500(portal, settings):
    session = requests.Session()
    callback = to_callback(session, portal)
    # A misconfigured claim name (a list, not a string) raises TypeError deep in the sign-in.
    settings.PORTAL_OIDC_GROUPS_CLAIM = ["groups"]
    answer = session.get(callback, timeout=30)
    assert answer.status_code == 502
    assert "could not be completed because of an unexpected answer" in answer.text
    assert failures() == ["unexpected error: TypeError"]
    assert not AuditEvent.objects.filter(action="auth.login").exists()


@pytest.mark.parametrize("fault", ["groups_missing", "groups_malformed", "groups_number"])
def test_missing_or_malformed_groups_show_the_no_access_page(portal, provider, fault):
    provider.set_fault(fault)  # type: ignore[arg-type]
    session, answer = sign_in(portal)

    assert answer.status_code == 403
    assert "You have no access to the MLOps Portal" in answer.text
    assert "the MLOps service desk" in answer.text
    assert session.get(f"{portal}/", timeout=30).url.startswith(f"{portal}/login/")
    assert AuditEvent.objects.filter(action="auth.sso_no_access").count() == 1
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    alice = User.objects.filter(username="alice").first()
    assert alice is None or (roles_of(alice) == [] and teams_of(alice) == [])


def test_a_person_in_no_mapped_group_is_told_whom_to_ask(portal, provider):
    provider.set_groups("alice", ["all-staff"])
    _, answer = sign_in(portal)
    assert answer.status_code == 403
    assert "None of your groups at the identity provider gives a role" in answer.text
    assert "Ask the MLOps service desk" in answer.text
    assert not User.objects.filter(username="alice").exists()


def test_with_the_provider_down_the_break_glass_administrator_still_signs_in(portal, settings):
    settings.PORTAL_LOCAL_LOGIN = False
    settings.PORTAL_OIDC_DISCOVERY_URL = (
        f"http://127.0.0.1:{free_port()}/o/.well-known/openid-configuration"
    )
    answer = requests.get(f"{portal}/login/sso/", timeout=30)
    assert answer.status_code == 502
    assert "Test IdP cannot be reached" in answer.text
    assert "break-glass sign-in" in answer.text
    assert failures()[0].startswith("discovery failed: ConnectionError")

    UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="ivan", role=Role.MODEL_OPS)
    admitted = Client().post("/login/", {"username": "root", "password": "pw-root"})
    assert admitted.status_code == 302 and admitted.url == "/"
    refused = Client().post("/login/", {"username": "ivan", "password": "pw-ivan"})
    assert refused.status_code == 200 and "break-glass administrators only" in refused.text


def test_the_provider_going_down_between_sign_in_and_answer_gives_a_clear_page(portal, settings):
    session = requests.Session()
    callback = to_callback(session, portal)
    settings.PORTAL_OIDC_DISCOVERY_URL = (
        f"http://127.0.0.1:{free_port()}/o/.well-known/openid-configuration"
    )
    answer = session.get(callback, timeout=30)
    assert answer.status_code == 502 and "cannot be reached" in answer.text


def test_a_person_disabled_at_the_provider_loses_the_open_session_at_the_next_check(
    portal, provider, settings
):
    settings.PORTAL_OIDC_RECHECK_SECONDS = 0
    session, _ = sign_in(portal)
    # A check that the provider accepts (a refresh-token grant) keeps the session open.
    assert session.get(f"{portal}/models/", timeout=30).url == f"{portal}/models/"
    assert session.get(f"{portal}/", timeout=30).url == f"{portal}/"

    provider.disable_user("alice")

    answer = session.get(f"{portal}/models/", timeout=30)
    assert answer.url.startswith(f"{portal}/login/")
    assert "no longer accepts your session" in answer.text
    logout = AuditEvent.objects.get(action="auth.logout")
    assert logout.after == {"reason": "the identity provider ended the session"}
    # And signing in again is refused by the provider itself.
    with pytest.raises(AssertionError):
        to_callback(requests.Session(), portal)


def test_signing_out_ends_the_provider_session_too(portal, provider):
    session, _ = sign_in(portal)
    answer = session.post(
        f"{portal}/logout/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{portal}/"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.url.startswith(f"{portal}/login/")
    assert any(hop.url.startswith(provider.end_session_endpoint) for hop in answer.history)
    assert "id_token_hint=" in answer.history[0].headers["Location"]
    assert AuditEvent.objects.filter(action="auth.logout").count() == 1
    # The provider forgot alice too: starting again shows its login form, not the portal.
    again = session.get(f"{portal}/login/sso/?next=/", timeout=30)
    assert "Sign in to Test IdP" in again.text


def api_me(base: str, raw: str) -> requests.Response:
    return requests.get(
        f"{base}/api/v1/me/", headers={"Authorization": f"Bearer {raw}"}, timeout=30
    )


def test_a_movers_roles_follow_the_provider_at_the_next_session_check(portal, provider, settings):
    settings.PORTAL_OIDC_RECHECK_SECONDS = 0
    session, _ = sign_in(portal)
    alice = User.objects.get(username="alice")
    link = ExternalIdentity.objects.get(user=alice)
    signed_in_at = link.last_sign_in_at
    provider.set_groups("alice", [MODEL_OPS, FRAUD, "all-staff"])

    answer = session.get(f"{portal}/models/", timeout=30)

    assert answer.url == f"{portal}/models/"  # still signed in
    assert roles_of(alice) == [Role.MODEL_OPS] and teams_of(alice) == ["fraud"]
    moved = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id")[0]
    assert moved.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert moved.after["roles"] == ["model_ops"] and moved.after["by"].startswith(
        "the identity provider (oidc:"
    )
    link.refresh_from_db()
    assert link.last_sign_in_at is not None and link.last_sign_in_at > signed_in_at

    # Out of every mapped group: signed out at the next check, with no rights left.
    provider.set_groups("alice", ["all-staff"])
    answer = session.get(f"{portal}/models/", timeout=30)
    assert answer.url.startswith(f"{portal}/login/")
    assert roles_of(User.objects.get(pk=alice.pk)) == [] and teams_of(alice) == []
    assert AuditEvent.objects.filter(action="auth.sso_no_access").exists()


def test_a_leaver_loses_roles_teams_and_api_tokens_when_the_provider_refuses(
    portal, provider, settings
):
    from apps.accounts import services

    settings.PORTAL_OIDC_RECHECK_SECONDS = 0
    session, _ = sign_in(portal)
    alice = User.objects.get(username="alice")
    _, raw = services.create_token(actor=alice, name="cli")
    assert api_me(portal, raw).status_code == 200

    provider.disable_user("alice")
    answer = session.get(f"{portal}/models/", timeout=30)

    assert answer.url.startswith(f"{portal}/login/")
    assert roles_of(alice) == [] and teams_of(alice) == []
    removed = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id")[0]
    assert removed.actor is None
    assert removed.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert removed.after["roles"] == [] and removed.after["teams"] == []
    assert removed.after["by"] == "the identity provider (Test IdP)"
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.actor is None
    assert revoked.after["reason"] == "the identity provider ended the session"
    refused = api_me(portal, raw)
    assert refused.status_code == 401 and "revoked" in refused.text


def test_an_unreachable_provider_at_the_check_takes_no_rights_away(portal, settings):
    from apps.accounts import services

    settings.PORTAL_OIDC_RECHECK_SECONDS = 0
    session, _ = sign_in(portal)
    alice = User.objects.get(username="alice")
    _, raw = services.create_token(actor=alice, name="cli")
    settings.PORTAL_OIDC_DISCOVERY_URL = (
        f"http://127.0.0.1:{free_port()}/o/.well-known/openid-configuration"
    )
    assert session.get(f"{portal}/models/", timeout=30).url == f"{portal}/models/"
    assert roles_of(alice) == [Role.DATA_SCIENTIST]
    assert not AuditEvent.objects.filter(action="token.revoked").exists()
    assert api_me(portal, raw).status_code == 200
