"""What the security review of single sign-on asked for: API tokens of provider accounts stop
when the person no longer signs in there, sessions have an absolute maximum, the lock-out counts
a username however it is written, and the OpenID Connect discovery URL must be https."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from apps.accounts import oidc, services
from apps.accounts.authentication import BearerTokenAuthentication
from apps.accounts.backends import lockout_username
from apps.accounts.middleware import SIGNED_IN_KEY
from apps.accounts.models import ExternalIdentity
from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- API tokens of accounts that sign in through a provider -----------------------------------


def _token_of(user: User) -> str:
    _, raw = services.create_token(actor=user, name="cli")
    return raw


def _me(raw: str) -> tuple[int, str]:
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    return response.status_code, response.content.decode()


def _link(user: User, days_ago: float | None, provider: str = "oidc:https://idp.example") -> None:
    ExternalIdentity.objects.create(
        user=user,
        provider=provider,
        subject=f"sub-{user.pk}",
        last_sign_in_at=None if days_ago is None else timezone.now() - timedelta(days=days_ago),
    )


def test_a_provider_accounts_token_works_while_they_signed_in_recently(settings):
    settings.PORTAL_SSO_TOKEN_MAX_DAYS_SINCE_SIGN_IN = 7
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    _link(alice, days_ago=6.9)
    assert _me(_token_of(alice))[0] == 200


@pytest.mark.parametrize(
    ("provider", "named"),
    [("oidc:https://idp.example", "Test IdP"), ("ldap", "the bank's directory")],
)
def test_a_provider_accounts_token_stops_when_they_have_not_signed_in_for_too_long(
    settings, provider, named
):
    settings.PORTAL_SSO_TOKEN_MAX_DAYS_SINCE_SIGN_IN = 7
    settings.PORTAL_OIDC_PROVIDER_NAME = "Test IdP"
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    _link(alice, days_ago=7.1, provider=provider)
    status, body = _me(_token_of(alice))
    assert status == 401
    assert f"Sign in to the portal through {named} again to keep using this token." in body


def test_a_provider_account_that_never_completed_a_sign_in_has_no_working_token():
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    _link(alice, days_ago=None)
    assert _me(_token_of(alice))[0] == 401


def test_the_most_recent_of_several_links_counts():
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    _link(alice, days_ago=None, provider="ldap")
    _link(alice, days_ago=30, provider="oidc:https://old.example")
    _link(alice, days_ago=1)
    assert _me(_token_of(alice))[0] == 200


def test_a_local_accounts_token_is_unaffected():
    bob = UserFactory(username="bob", role=Role.DATA_SCIENTIST)
    assert _me(_token_of(bob))[0] == 200


def test_the_token_check_is_one_query():
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    _link(alice, days_ago=1)
    raw = _token_of(alice)
    auth = BearerTokenAuthentication()
    request = Request(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {raw}"))
    auth.authenticate(request)  # sets last_used_at
    with CaptureQueriesContext(connection) as queries:
        found = auth.authenticate(request)
    assert found is not None and found[0] == alice
    assert len(queries) == 1
    ExternalIdentity.objects.filter(user=alice).update(
        last_sign_in_at=timezone.now() - timedelta(days=8)
    )
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(request)


# --- The absolute maximum of a session -----------------------------------------------------------


def test_a_session_ends_at_its_maximum_length_however_active(settings):
    settings.SESSION_COOKIE_AGE = 3600
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    client = Client()
    client.force_login(alice)
    signed_in = client.session[SIGNED_IN_KEY]
    assert abs(signed_in - time.time()) < 5
    assert client.get("/").status_code == 200

    session = client.session
    session[SIGNED_IN_KEY] = int(time.time()) - 3601
    session["portal_last_activity"] = int(time.time())  # active a moment ago
    session.save()

    answer = client.get("/", follow=True)
    assert answer.redirect_chain[-1][0].startswith("/login/")
    assert "a session lasts at most 1 hour" in answer.content.decode()
    logout = AuditEvent.objects.get(action="auth.logout")
    assert logout.after == {"reason": "maximum session length"}


def test_a_session_from_before_the_rule_counts_from_its_next_request(settings):
    alice = UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    client = Client()
    client.force_login(alice)
    session = client.session
    del session[SIGNED_IN_KEY]
    session.save()
    assert client.get("/").status_code == 200
    assert abs(client.session[SIGNED_IN_KEY] - time.time()) < 5


# --- The lock-out counts a username however it is written ----------------------------------------


@pytest.mark.parametrize("written", ["alice", "Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"])
def test_the_lockout_username_is_normalised_and_casefolded(written):
    assert lockout_username(None, {"username": written}) == "alice"


def test_the_lockout_username_comes_from_the_form_without_credentials():
    request = RequestFactory().post("/login/", {"username": "ALICE"})
    assert lockout_username(request, None) == "alice"
    assert lockout_username(None, None) is None


def test_changing_the_case_of_a_username_does_not_get_more_tries(settings):
    UserFactory(username="alice", role=Role.DATA_SCIENTIST)
    spellings = ["alice", "Alice", "ALICE", "aLiCe", "ALIce", "alICE"]
    assert len(spellings) > settings.AXES_FAILURE_LIMIT
    client = Client()
    for written in spellings[: settings.AXES_FAILURE_LIMIT]:
        client.post("/login/", {"username": written, "password": "wrong"})
    assert AccessAttempt.objects.get().failures_since_start == settings.AXES_FAILURE_LIMIT
    # Locked out: the right password, in yet another spelling, is refused.
    answer = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert answer.status_code == 429


# --- The discovery URL must be https ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("", False),
        ("https://login.bank.example/.well-known/openid-configuration", False),
        ("http://127.0.0.1:8080/o/.well-known/openid-configuration", False),
        ("http://localhost:8080/.well-known/openid-configuration", False),
        ("http://[::1]:8080/.well-known/openid-configuration", False),
        ("http://login.bank.example/.well-known/openid-configuration", True),
        ("http://127.0.0.1.evil.example/.well-known/openid-configuration", True),
        ("ftp://login.bank.example/x", True),
    ],
)
def test_an_http_discovery_url_fails_the_system_check_unless_loopback(settings, url, refused):
    settings.PORTAL_OIDC_DISCOVERY_URL = url
    found = oidc.check_settings()
    assert [m.id for m in found] == (["accounts.E111"] if refused else [])
