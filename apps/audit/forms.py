from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from apps.audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, label="Actor (username)")
    action = forms.CharField(required=False, help_text="Exact action, or a prefix such as “auth.”")
    object_type = forms.CharField(required=False, label="Object type")
    object_id = forms.CharField(required=False, label="Object id")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“From” must be on or before “To”.")
        return data

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Filter by whatever the form holds; call only after is_valid()."""
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_username=data["actor"].strip())
        if action := data.get("action", "").strip():
            events = (
                events.filter(action__startswith=action)
                if action.endswith(".")
                else events.filter(action=action)
            )
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"].strip())
        if data.get("object_id"):
            events = events.filter(object_id=data["object_id"].strip())
        tz = timezone.get_current_timezone()
        if data.get("since"):
            events = events.filter(occurred_at__gte=datetime.combine(data["since"], time.min, tz))
        if data.get("until"):
            events = events.filter(occurred_at__lte=datetime.combine(data["until"], time.max, tz))
        return events
