from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse

from apps.audit.admin import ReadOnlyAdmin
from apps.core.links import absolute
from apps.core.permissions import user_of
from apps.integrations import services
from apps.integrations.models import MlflowConnection, MlflowImport, MlflowLink


class MlflowConnectionForm(forms.ModelForm):
    """The secret is write-only: the form says whether one is set, and a new one replaces it;
    it is never rendered back into the page."""

    new_secret = forms.CharField(
        label="Token or password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current one. Never shown again once saved.",
    )
    tracking_url = forms.URLField(label="Tracking URL", max_length=500, assume_scheme="https")
    clear_secret = forms.BooleanField(label="Remove the stored token or password", required=False)
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        min_length=16,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_webhook_secret = forms.BooleanField(
        label="Remove the webhook secret (refuse every delivery)", required=False
    )

    class Meta:
        model = MlflowConnection
        fields = ["name", "tracking_url", "auth", "username", "send_tags", "teams"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = "set" if self.instance.pk and self.instance.secret else "not set"
        self.fields["new_secret"].help_text = (
            f"Currently {state}. Leave empty to keep it; a value typed here replaces it. "
            "Never shown again once saved."
        )
        hook = "set" if self.instance.pk and self.instance.webhook_secret else "not set"
        self.fields["new_webhook_secret"].help_text = (
            f"Currently {hook}. The secret MLflow signs its webhook deliveries with: give MLflow "
            "the same one when you create the webhook (at least 16 characters, e.g. from "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'). Leave empty to keep "
            "it. Never shown again once saved."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "tracking_url" in cleaned:
            probe = MlflowConnection(
                tracking_url=cleaned["tracking_url"],
                auth=cleaned.get("auth", MlflowConnection.Auth.NONE),
                username=cleaned.get("username", ""),
            )
            try:
                services.check_connection(probe)
            except ValidationError as refused:
                self.add_error(None, refused)
        return cleaned

    def new_secret_value(self) -> str | None:
        if self.cleaned_data.get("clear_secret"):
            return ""
        return self.cleaned_data.get("new_secret") or None

    def new_webhook_secret_value(self) -> str | None:
        if self.cleaned_data.get("clear_webhook_secret"):
            return ""
        return self.cleaned_data.get("new_webhook_secret") or None


@admin.register(MlflowConnection)
class MlflowConnectionAdmin(admin.ModelAdmin):
    """Administrators connect MLflow servers here; saves and deletes go through the audited
    service (the secret never reaches the audit trail)."""

    form = MlflowConnectionForm
    list_display = ["name", "tracking_url", "auth", "secret_state", "updated_at"]
    readonly_fields = ["webhook_url", "created_by", "created_at", "updated_at"]
    filter_horizontal = ["teams"]

    @admin.display(description="Token or password")
    def secret_state(self, obj: MlflowConnection) -> str:
        return "set" if obj.secret else "not set"

    @admin.display(description="Webhook address")
    def webhook_url(self, obj: MlflowConnection) -> str:
        if not obj.pk:
            return "Shown once the connection is saved."
        return absolute(reverse("integrations:webhook", args=[obj.pk]))

    def save_model(
        self, request: HttpRequest, obj: MlflowConnection, form: ModelForm, change: bool
    ) -> None:
        # Saved whole, teams included, by the audited service in save_related.
        return None

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        assert isinstance(form, MlflowConnectionForm)
        obj = form.instance
        services.save_connection(
            user_of(request),
            obj,
            new_secret=form.new_secret_value(),
            new_webhook_secret=form.new_webhook_secret_value(),
            teams=list(form.cleaned_data.get("teams", [])),
        )

    def delete_model(self, request: HttpRequest, obj: MlflowConnection) -> None:
        services.delete_connection(user_of(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MlflowConnection]) -> None:
        with transaction.atomic():
            for connection in queryset:
                services.delete_connection(user_of(request), connection)


@admin.register(MlflowLink)
class MlflowLinkAdmin(ReadOnlyAdmin):
    """Links are made and removed on the model page (audited there)."""

    list_display = ["model", "connection", "mlflow_name", "created_by", "created_at"]


@admin.register(MlflowImport)
class MlflowImportAdmin(ReadOnlyAdmin):
    list_display = ["model", "reference", "state", "version", "requested_by", "requested_at"]
    list_filter = ["state", "connection"]
    exclude = ["holdout_key"]
