"""Signing in and out: session rotation, idle expiry, throttling, and the audit of each."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_rotates_the_session_key_and_is_audited(people):
    client = Client()
    session = client.session
    session["probe"] = 1
    session.save()
    before = client.session.session_key

    response = _login(client, "alice", "pw-alice")

    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.session.session_key != before
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == people.alice and event.ip == "127.0.0.1"


def test_a_failed_login_shows_an_error_and_is_audited(people):
    response = _login(Client(), "alice", "wrong")
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None and event.after == {"username": "alice"}


def test_repeated_failures_lock_the_username_out_and_are_audited(people):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "alice", "wrong").status_code == 200
    response = _login(client, "alice", "wrong")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    # Even the right password is refused while locked out.
    assert _login(client, "alice", "pw-alice").status_code == 429
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    # Someone else's sign-in from the same address is not affected.
    assert _login(client, "bob", "pw-bob").status_code == 302


def _sign_in(path: str, username: str, password: str, forwarded_for: str = "", **client):
    """A sign-in on the page or at the token endpoint, from the client described by ``client``."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    credentials = {"username": username, "password": password}
    if path.startswith("/api/"):
        body = {**credentials, "name": "laptop"}
        return Client(**client).post(path, body, content_type="application/json", headers=headers)
    return Client(**client).post(path, credentials, headers=headers)


SIGN_IN = pytest.mark.parametrize("path", ["/login/", "/api/v1/auth/token/"])


@SIGN_IN
def test_forged_forwarded_addresses_do_not_escape_the_lock_out(people, settings, path):
    """Production settings (a proxy at 10.0.0.2), but the client reaches the web port directly and
    names a new address in X-Forwarded-For with every guess."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.2"]
    limit = settings.AXES_FAILURE_LIMIT  # 5: below the token endpoint's rate limit of 10

    answers = [
        _sign_in(path, "alice", "wrong", f"203.0.113.{n}", REMOTE_ADDR="192.0.2.66").status_code
        for n in range(limit + 3)
    ]

    assert 429 not in answers[: limit - 1] and set(answers[limit - 1 :]) == {429}
    # Not even the right password, from yet another made-up address.
    right = _sign_in(path, "alice", "pw-alice", "198.51.100.1", REMOTE_ADDR="192.0.2.66")
    assert right.status_code == 429
    failures = AuditEvent.objects.filter(action="auth.login_failed")
    assert set(failures.values_list("ip", flat=True)) == {"192.0.2.66"}


def test_forged_forwarded_addresses_do_not_escape_the_token_rate_limit(people):
    """One client tries a password for many usernames, each time with a new made-up address."""
    answers = [
        _sign_in("/api/v1/auth/token/", f"user{n}", "Winter2026!", f"203.0.113.{n}").status_code
        for n in range(1, 41)
    ]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}


@SIGN_IN
def test_behind_a_trusted_proxy_lockouts_follow_the_client_not_the_proxy(people, settings, path):
    """Every request reaches the portal from the proxy (the test client's own address); the
    client's address is forwarded."""
    settings.PORTAL_TRUSTED_PROXIES = ["127.0.0.1"]

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(path, "alice", "wrong", "203.0.113.7")
    assert _sign_in(path, "alice", "pw-alice", "203.0.113.7").status_code == 429
    # alice at her own desk, through the same proxy, is not locked out by someone else's guesses.
    assert _sign_in(path, "alice", "pw-alice", "198.51.100.20").status_code in (201, 302)
    failures = AuditEvent.objects.filter(action="auth.login_failed")
    assert set(failures.values_list("ip", flat=True)) == {"203.0.113.7"}
    login = AuditEvent.objects.get(action__in=["auth.login", "token.created"])
    assert login.ip == "198.51.100.20"


def test_behind_a_trusted_proxy_the_token_rate_limit_follows_the_client(people, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["127.0.0.0/8"]
    for n in range(10):
        _sign_in("/api/v1/auth/token/", f"user{n}", "x", "203.0.113.7")
    assert _sign_in("/api/v1/auth/token/", "bob", "x", "203.0.113.7").status_code == 429
    # Another client behind the same proxy still has its own allowance.
    assert _sign_in("/api/v1/auth/token/", "bob", "pw-bob", "198.51.100.20").status_code == 201


def test_logout_is_a_post_and_is_audited(people):
    client = Client()
    client.force_login(people.bob)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", actor=people.bob).exists()
    assert client.get(reverse("dashboard")).status_code == 302


def test_an_idle_session_is_signed_out(people, settings):
    client = Client()
    client.force_login(people.carl)
    assert client.get(reverse("dashboard")).status_code == 200
    session = client.session
    session["portal_last_activity"] = int(time.time()) - settings.PORTAL_SESSION_IDLE_SECONDS - 5
    session.save()

    response = client.get(reverse("dashboard"))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    event = AuditEvent.objects.filter(action="auth.logout", actor=people.carl).get()
    assert event.after == {"reason": "idle timeout"}


def test_live_polling_does_not_keep_a_session_alive(people, settings):
    client = Client()
    client.force_login(people.carl)
    client.get(reverse("dashboard"))
    stale = int(time.time()) - settings.PORTAL_SESSION_IDLE_SECONDS + 30
    session = client.session
    session["portal_last_activity"] = stale
    session.save()
    client.get(reverse("jobs:list") + "?fragment=1", HTTP_X_PORTAL_POLL="1")
    assert client.session["portal_last_activity"] == stale


@pytest.mark.parametrize("path", ["/", "/jobs/", "/audit/", "/account/tokens/", "/api/v1/docs/"])
def test_pages_require_a_login(path):
    response = Client().get(path)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_posts_without_a_csrf_token_are_refused_and_audited(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.alice)
    response = client.post(reverse("accounts:tokens"), {"name": "x", "days": 30})
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.actor == people.alice
    assert event.after["reason"].startswith("CSRF check failed")


def test_posts_from_a_foreign_origin_are_refused(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.alice)
    page = client.get(reverse("accounts:tokens"))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("accounts:tokens"),
        {"name": "x", "days": 30, "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
