from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminURLFieldWidget
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from apps.audit.admin import ReadOnlyAdmin
from apps.core.permissions import user_of
from apps.notifications import services
from apps.notifications.models import AllowedWebhookHost, Webhook, WebhookDelivery


class WebhookForm(forms.ModelForm):
    """Shows what the service would refuse (an internal URL, unknown events) on the field."""

    # A URL typed without a scheme is taken as https (Django 6's default already).
    url = forms.URLField(max_length=500, assume_scheme="https", widget=AdminURLFieldWidget)

    class Meta:
        model = Webhook
        fields = ["name", "url", "secret", "events", "active"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "url" in cleaned and "events" in cleaned:  # otherwise their own errors come first
            try:
                services.check_webhook(cleaned["url"], cleaned["events"])
            except ValidationError as refused:
                self.add_error(None, refused)
        return cleaned


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Administrators configure webhooks here; every save and delete goes through the audited
    service, "Delete selected" too (one service call per webhook, in one transaction)."""

    form = WebhookForm
    list_display = ["name", "url", "active", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Webhook, form: ModelForm, change: bool) -> None:
        services.save_webhook(user_of(request), obj)

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        services.delete_webhook(user_of(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        with transaction.atomic():
            for hook in queryset:
                services.delete_webhook(user_of(request), hook)


@admin.register(AllowedWebhookHost)
class AllowedWebhookHostAdmin(admin.ModelAdmin):
    """Internal hosts webhooks may reach despite the SSRF guard. Add only what you trust.

    The model's ``clean`` normalises the host before the form checks it is not listed yet.
    """

    list_display = ["host", "note", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: AllowedWebhookHost, form: ModelForm, change: bool
    ) -> None:
        allowed = services.allow_host(user_of(request), obj.host, obj.note)
        obj.pk = allowed.pk

    def delete_model(self, request: HttpRequest, obj: AllowedWebhookHost) -> None:
        services.disallow_host(user_of(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AllowedWebhookHost]) -> None:
        with transaction.atomic():
            for allowed in queryset:
                services.disallow_host(user_of(request), allowed)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None  # add or remove an entry; editing one in place would hide the change


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: read-only, and never deleted (deactivate a webhook instead)."""

    list_display = ["event", "webhook", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "event", "webhook"]
