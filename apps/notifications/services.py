"""Telling people and systems what happened: the inbox, email, and outbound webhooks.

``emit`` is called by other services inside their transaction: the inbox rows and webhook
delivery rows commit with the change they announce, and email and webhook sending start only
after that commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.links import absolute
from apps.core.permissions import require
from apps.core.registry import EventType, registry
from apps.notifications import tasks, webhooks
from apps.notifications.models import (
    AllowedWebhookHost,
    Notification,
    Preference,
    Webhook,
    WebhookDelivery,
)


def event_codes() -> list[str]:
    """Every event an app registered (``registry.notification_events``), in registration order."""
    return registry.notification_events.names()


def emit(
    event: EventType,
    *,
    recipients: Iterable[User],
    title: str,
    body: str = "",
    url: str = "",
    payload: dict[str, Any] | None = None,
) -> list[Notification]:
    """Announce ``event`` to people (as they prefer) and to the webhooks that subscribe to it."""
    if event.code not in registry.notification_events:
        raise ValueError(f"{event.code} is not a registered notification event")
    code = event.code
    people = {u.pk: u for u in recipients if u is not None and u.is_active}
    preferences = {p.user_id: p for p in Preference.objects.filter(user_id__in=people, event=code)}
    in_app, by_email = [], []
    for user_id, user in people.items():
        preference = preferences.get(user_id)
        if preference is None or preference.in_app:
            in_app.append(
                Notification(
                    recipient=user, event=code, title=title[:200], body=body, url=url[:300]
                )
            )
        if (preference is None or preference.email) and user.email:
            by_email.append(user_id)
    created = Notification.objects.bulk_create(in_app)
    if by_email:
        transaction.on_commit(
            lambda: tasks.send_emails.delay(title, body, absolute(url), by_email), robust=True
        )
    document = {
        "event": code,
        "occurred_at": timezone.now().isoformat(),
        "title": title,
        "url": absolute(url) if url else "",
        "data": payload or {},
    }
    deliveries = [
        WebhookDelivery(webhook=hook, event=code, payload=document)
        for hook in Webhook.objects.filter(active=True)
        if hook.wants(code)
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        webhooks.send_after_commit(delivery)
    return created


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them when no ids are given)."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def preferences_of(user: User) -> dict[str, tuple[bool, bool]]:
    """(in_app, email) for every event, defaults included."""
    stored = {p.event: (p.in_app, p.email) for p in Preference.objects.filter(user=user)}
    return {event: stored.get(event, (True, True)) for event in event_codes()}


@transaction.atomic
def set_preferences(actor: User, choices: dict[str, tuple[bool, bool]]) -> None:
    before = preferences_of(actor)
    unknown = set(choices) - set(event_codes())
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(sorted(unknown))}.")
    for event, (in_app, email) in choices.items():
        Preference.objects.update_or_create(
            user=actor, event=event, defaults={"in_app": in_app, "email": email}
        )
    after = preferences_of(actor)
    changed_before = {k: list(v) for k, v in before.items() if after[k] != v}
    changed_after = {k: list(after[k]) for k in changed_before}
    if changed_after:
        audit.record(
            actor,
            AuditAction.NOTIFICATION_PREFERENCES_CHANGED,
            actor,
            before=changed_before,
            after=changed_after,
        )


# --- Webhook configuration (administrators) ---------------------------------------------------


WEBHOOKS = "notifications.change_webhook"


def _require_admin(actor: User) -> None:
    require(
        actor, "notifications.change_webhook", message="Only administrators configure webhooks."
    )


def _webhook_snapshot(hook: Webhook) -> dict[str, Any]:
    return {
        "name": hook.name,
        "url": webhooks.redacted(hook.url),
        "events": hook.events,
        "active": hook.active,
    }


def check_webhook(url: str, events: object) -> None:
    """Raise ValidationError, by field, unless a webhook with this URL and these events may be
    saved: the SSRF guard must accept the URL, and the events must be a list of known names.

    ``save_webhook`` checks this itself; forms call it to show the problems on their fields.
    """
    errors: dict[str, str] = {}
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        errors["events"] = 'List event names, e.g. ["review.requested"], or [] for every event.'
    elif unknown := set(events) - set(event_codes()):
        errors["events"] = f"Unknown events: {', '.join(sorted(unknown))}."
    try:
        webhooks.check_target(url)
    except webhooks.TargetRefused as refused:
        errors["url"] = str(refused)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_webhook(actor: User, hook: Webhook) -> Webhook:
    """Create or change a webhook; the secret is never written to the audit trail."""
    _require_admin(actor)
    before = None
    if hook.pk:
        before = _webhook_snapshot(Webhook.objects.select_for_update().get(pk=hook.pk))
    check_webhook(hook.url, hook.events)
    hook.created_by = hook.created_by or actor
    hook.full_clean()
    hook.save()
    audit.record(
        actor, AuditAction.WEBHOOK_SAVED, hook, before=before, after=_webhook_snapshot(hook)
    )
    return hook


@transaction.atomic
def delete_webhook(actor: User, hook: Webhook) -> None:
    _require_admin(actor)
    audit.record(actor, AuditAction.WEBHOOK_DELETED, hook, before=_webhook_snapshot(hook))
    hook.delete()


@transaction.atomic
def allow_host(actor: User, host: str, note: str = "") -> AllowedWebhookHost:
    """Let webhooks reach one internal host that the SSRF guard would otherwise refuse."""
    _require_admin(actor)
    allowed, _ = AllowedWebhookHost.objects.get_or_create(
        host=AllowedWebhookHost.normalised(host), defaults={"note": note, "created_by": actor}
    )
    audit.record(
        actor, AuditAction.WEBHOOK_HOST_ALLOWED, allowed, after={"host": allowed.host, "note": note}
    )
    return allowed


@transaction.atomic
def disallow_host(actor: User, allowed: AllowedWebhookHost) -> None:
    _require_admin(actor)
    audit.record(actor, AuditAction.WEBHOOK_HOST_DISALLOWED, allowed, before={"host": allowed.host})
    allowed.delete()
