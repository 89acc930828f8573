"""The notifications admin: webhooks and the allowlist go through the audited services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from apps.audit.models import AuditEvent
from apps.notifications import services
from apps.notifications.models import AllowedWebhookHost, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"  # check_target resolves a literal without the network
HOOKS = "/admin/notifications/webhook/"
HOSTS = "/admin/notifications/allowedwebhookhost/"
DELIVERIES = "/admin/notifications/webhookdelivery/"


@pytest.fixture
def admin_client(people) -> Client:
    client = Client()
    client.force_login(people.admin)
    return client


def _add_webhook(client: Client, url: str, events: str = "[]"):  # type: ignore[no-untyped-def]
    return client.post(
        f"{HOOKS}add/",
        {"name": "CI", "url": url, "secret": "s" * 32, "events": events, "active": "on"},
    )


def _hook(people, name: str = "chat") -> Webhook:  # type: ignore[no-untyped-def]
    return services.save_webhook(people.admin, Webhook(name=name, url=f"http://{PUBLIC_IP}/h"))


def _delete_selected(client: Client, changelist: str, *pks: int):  # type: ignore[no-untyped-def]
    return client.post(
        changelist, {"action": "delete_selected", "_selected_action": list(pks), "post": "yes"}
    )


def test_an_internal_webhook_url_is_shown_on_the_form_not_a_server_error(admin_client):
    response = _add_webhook(admin_client, "http://127.0.0.1:9/hook")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "127.0.0.1 is a loopback address" in errors["url"][0]
    assert not Webhook.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook.saved").exists()


def test_unknown_or_malformed_events_are_shown_on_the_form(admin_client):
    unknown = _add_webhook(admin_client, f"http://{PUBLIC_IP}/h", events='["model.eaten"]')
    assert "Unknown events: model.eaten." in unknown.context["adminform"].form.errors["events"]
    malformed = _add_webhook(admin_client, f"http://{PUBLIC_IP}/h", events="5")
    assert malformed.status_code == 200
    assert "List event names" in malformed.context["adminform"].form.errors["events"][0]
    assert not Webhook.objects.exists()


def test_a_webhook_added_in_the_admin_is_saved_and_audited_by_the_service(people, admin_client):
    response = _add_webhook(admin_client, f"http://{PUBLIC_IP}/h", events='["review.requested"]')
    assert response.status_code == 302
    hook = Webhook.objects.get()
    assert hook.created_by == people.admin and hook.events == ["review.requested"]
    assert AuditEvent.objects.get(action="webhook.saved").object_id == str(hook.pk)


def test_delete_selected_webhooks_audits_each_deletion(people, admin_client):
    first, second = _hook(people, "one"), _hook(people, "two")
    response = _delete_selected(admin_client, HOOKS, first.pk, second.pk)
    assert response.status_code == 302 and not Webhook.objects.exists()
    deleted = AuditEvent.objects.filter(action="webhook.deleted")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(
        [str(first.pk), str(second.pk)]
    )
    assert all(event.actor == people.admin for event in deleted)


def test_deleting_one_webhook_in_the_admin_stays_audited(people, admin_client):
    hook = _hook(people)
    assert admin_client.post(f"{HOOKS}{hook.pk}/delete/", {"post": "yes"}).status_code == 302
    assert AuditEvent.objects.filter(action="webhook.deleted", object_id=str(hook.pk)).exists()


def test_delete_selected_allowed_hosts_audits_each_withdrawal(people, admin_client):
    entries = [services.allow_host(people.admin, h) for h in ("hooks.internal", "10.0.0.5:8443")]
    _delete_selected(admin_client, HOSTS, *(e.pk for e in entries))
    assert not AllowedWebhookHost.objects.exists()
    withdrawn = AuditEvent.objects.filter(action="webhook.host_disallowed")
    assert sorted(e.before["host"] for e in withdrawn) == ["10.0.0.5:8443", "hooks.internal"]


def test_the_delivery_log_cannot_be_deleted_or_edited_in_the_admin(people, admin_client):
    delivery = WebhookDelivery.objects.create(webhook=_hook(people), event="x", payload={})
    assert (
        admin_client.post(f"{DELIVERIES}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    _delete_selected(admin_client, DELIVERIES, delivery.pk)
    change = admin_client.post(f"{DELIVERIES}{delivery.pk}/change/", {"status": "delivered"})
    assert change.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    listed = admin_client.get(DELIVERIES).content.decode()
    assert "Delete selected" not in listed


def test_re_adding_an_allowed_host_in_other_case_is_refused_as_a_duplicate(people, admin_client):
    services.allow_host(people.admin, "hooks.internal")
    response = admin_client.post(f"{HOSTS}add/", {"host": " Hooks.Internal ", "note": "again"})
    assert response.status_code == 200
    assert "already exists" in response.context["adminform"].form.errors["host"][0]
    assert list(AllowedWebhookHost.objects.values_list("host", flat=True)) == ["hooks.internal"]
    assert AuditEvent.objects.filter(action="webhook.host_allowed").count() == 1


def test_an_allowed_host_added_in_the_admin_is_stored_lower_case_and_stripped(admin_client):
    response = admin_client.post(f"{HOSTS}add/", {"host": " Hooks.Internal:8443 ", "note": ""})
    assert response.status_code == 302
    assert AllowedWebhookHost.objects.get().host == "hooks.internal:8443"


@pytest.mark.parametrize(
    "value",
    ["http://hooks.internal/", "hooks.internal/path", "hooks internal", "hooks.internal:",
     "hooks.internal:99999", "[not-ipv6]:80", "a:b:c", "user@hooks.internal"],
)  # fmt: skip
def test_an_allowed_host_must_be_a_host_name_or_host_and_port(admin_client, value):
    response = admin_client.post(f"{HOSTS}add/", {"host": value, "note": ""})
    assert response.status_code == 200
    assert "is not a host name or host:port" in response.context["adminform"].form.errors["host"][0]
    assert not AllowedWebhookHost.objects.exists()


@pytest.mark.parametrize(
    ("value", "stored"),
    [("LocalHost", "localhost"), ("[::1]:9000", "[::1]:9000"), ("::1", "::1"),
     ("Bücher.Example", "bücher.example"), ("10.0.0.5", "10.0.0.5")],
)  # fmt: skip
def test_the_allow_host_service_normalises_what_it_stores(people, value, stored):
    assert services.allow_host(people.admin, value).host == stored


def test_the_allow_host_service_refuses_what_is_not_a_host(people):
    with pytest.raises(ValidationError, match="is not a host name or host:port"):
        services.allow_host(people.admin, "https://hooks.internal/")
    assert not AllowedWebhookHost.objects.exists()
