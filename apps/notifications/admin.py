from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from apps.accounts.permissions import user_of
from apps.notifications import services
from apps.notifications.models import AllowedWebhookHost, Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Administrators configure webhooks here; every save goes through the audited service."""

    list_display = ["name", "url", "active", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Webhook, form: ModelForm, change: bool) -> None:
        services.save_webhook(user_of(request), obj)

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        services.delete_webhook(user_of(request), obj)


@admin.register(AllowedWebhookHost)
class AllowedWebhookHostAdmin(admin.ModelAdmin):
    """Internal hosts webhooks may reach despite the SSRF guard. Add only what you trust."""

    list_display = ["host", "note", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: AllowedWebhookHost, form: ModelForm, change: bool
    ) -> None:
        allowed = services.allow_host(user_of(request), obj.host, obj.note)
        obj.pk = allowed.pk

    def delete_model(self, request: HttpRequest, obj: AllowedWebhookHost) -> None:
        services.disallow_host(user_of(request), obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None  # add or remove an entry; editing one in place would hide the change


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only."""

    list_display = ["event", "webhook", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "event", "webhook"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in WebhookDelivery._meta.fields]
