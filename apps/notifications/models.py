from __future__ import annotations

import ipaddress
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apps.core.outbound import HOST_NAME
from apps.core.permissions import Person, RestrictedQuerySet
from apps.core.registry import registry

_HOST_AND_PORT = re.compile(r"^(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[^:\[\]]+))(?::(?P<port>[0-9]+))?$")


class NotificationQuerySet(RestrictedQuerySet["Notification"]):
    def restrict(self, user: Person, action: str = "view") -> NotificationQuerySet:
        """A person's inbox is theirs alone."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(recipient=user)


class Notification(models.Model):
    """One message in a person's inbox."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient}"

    @property
    def event_label(self) -> str:
        """The event's name for people (each app registers its own events)."""
        known = registry.notification_events.get(self.event)
        return known.label if known else self.event


class Preference(models.Model):
    """Whether a person wants one kind of event in the inbox and by email (both by default)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=40)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_preference_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.event}"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    """An outbound endpoint that receives signed JSON for the events it subscribes to."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=100,
        default=_new_secret,
        help_text="Payloads are signed with HMAC-SHA256 using this secret.",
    )
    events = models.JSONField(
        default=list, blank=True, help_text="Event names; empty means every event."
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused (target not allowed)"

    # PROTECT: the delivery log outlives a change of mind; deactivate a webhook instead.
    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook}: {self.status}"


class AllowedWebhookHost(models.Model):
    """An internal host an administrator allows webhooks to reach (SSRF guard exception)."""

    host = models.CharField(
        max_length=253,
        unique=True,
        help_text="Exact host name or IP address, e.g. hooks.internal.bank",
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        if self.host:
            self.host = self.normalised(self.host)

    @staticmethod
    def normalised(value: str) -> str:
        """``value`` as the allowlist stores and matches it: stripped and lower-case, and a host
        name or IP address, optionally with ``:port`` (an IPv6 address in brackets for that).

        The spelling is kept otherwise: the guard matches hosts exactly as written in a URL.
        """
        host = value.strip().lower()
        refused = ValidationError(
            {
                "host": f"{value.strip()!r} is not a host name or host:port. Write the host as it "
                "appears in the webhook URL, e.g. hooks.internal.bank, 10.0.0.5:8443 or [fd00::5]."
            }
        )
        try:
            if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
                return host  # an IPv6 address without brackets, hence without a port
        except ValueError:
            pass
        match = _HOST_AND_PORT.match(host)
        if match is None:
            raise refused
        port = match["port"]
        if port is not None and not 0 < int(port) <= 65535:
            raise refused
        if match["ipv6"] is not None:
            try:
                ipaddress.IPv6Address(match["ipv6"])
            except ValueError:
                raise refused from None
            return host
        try:
            ascii_name = match["name"].encode("idna").decode("ascii")
        except UnicodeError:
            raise refused from None
        if not HOST_NAME.match(ascii_name) or len(ascii_name) > 253:
            raise refused
        return host
