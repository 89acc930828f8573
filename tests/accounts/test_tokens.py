"""Personal API tokens: hashed, shown once, expiring, revocable, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_obtaining_a_token_with_username_and_password(people):
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "pw-alice", "name": "laptop", "expires_in_days": 7},
        format="json",
    )
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("mlp_") and response["Cache-Control"] == "no-store"
    stored = ApiToken.objects.get(user=people.alice)
    assert raw not in (stored.key_hash, stored.hint) and stored.key_hash == ApiToken.hash(raw)
    assert timedelta(days=6) < stored.expires_at - timezone.now() <= timedelta(days=7)
    assert AuditEvent.objects.filter(action="token.created", actor=people.alice).exists()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json() == {
        "username": "alice",
        "full_name": "Alice",
        "roles": ["data_scientist"],
        "teams": ["retail-credit"],
    }


def test_a_wrong_password_gets_no_token_and_is_audited(people):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="auth.login_failed").exists()


def test_the_token_endpoint_locks_out_after_repeated_failures(people, settings):
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token/", {"username": "bob", "password": "x"}, format="json")
    response = client.post(
        "/api/v1/auth/token/", {"username": "bob", "password": "pw-bob"}, format="json"
    )
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.json()["detail"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer mlp_not-a-real-token", "Invalid token."),
        ("Bearer", "Send the header as 'Authorization: Bearer <token>'."),
        ("Bearer a b", "Send the header as 'Authorization: Bearer <token>'."),
    ],
)
def test_bad_tokens_are_refused(people, header, message):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": message}
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_and_expired_tokens_are_refused(people):
    token, raw = services.create_token(actor=people.alice, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me/").status_code == 200

    services.revoke_token(token.pk, actor=people.alice)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]

    old, old_raw = services.create_token(actor=people.alice, name="old")
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {old_raw}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_people_list_and_revoke_only_their_own_tokens(people, api):
    bobs, _ = services.create_token(actor=people.bob, name="bob's")
    alice = api(people.alice)
    listed = alice.get("/api/v1/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["tests"]
    assert alice.delete(f"/api/v1/auth/tokens/{bobs.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=bobs.pk).revoked_at is None

    own = listed[0]["id"]
    assert alice.delete(f"/api/v1/auth/tokens/{own}/").status_code == 204
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.actor == people.alice and revoked.after["state"] == "revoked"


def test_the_tokens_page_shows_a_new_token_once_and_revokes(people):
    client = Client()
    client.force_login(people.rita)
    response = client.post(reverse("accounts:tokens"), {"name": "notebook", "days": 30})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = response.context["created"]["raw"]
    assert raw in response.content.decode()
    again = client.get(reverse("accounts:tokens")).content.decode()
    assert raw not in again and "notebook" in again

    token = ApiToken.objects.get(user=people.rita)
    response = client.post(reverse("accounts:revoke-token", args=[token.pk]), follow=True)
    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.state == "revoked"


def test_nobody_revokes_someone_elses_token_from_the_page(people):
    token, _ = services.create_token(actor=people.alice, name="mine")
    client = Client()
    client.force_login(people.bob)
    assert client.post(reverse("accounts:revoke-token", args=[token.pk])).status_code == 404


def test_a_token_without_a_name_is_refused_with_a_message(people):
    client = Client()
    client.force_login(people.rita)
    response = client.post(reverse("accounts:tokens"), {"name": "  ", "days": 30})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
