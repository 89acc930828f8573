from __future__ import annotations

from typing import Any

from django import forms

from apps.core.registry import registry


class PreferencesForm(forms.Form):
    """Two checkboxes per event: in the inbox, by email."""

    def __init__(self, *args: Any, current: dict[str, tuple[bool, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for event in registry.notification_events:
            value, label = event.code, event.label
            in_app, email = current[value]
            self.fields[f"{value}:in_app"] = forms.BooleanField(
                label=f"{label}: in my inbox", required=False, initial=in_app
            )
            self.fields[f"{value}:email"] = forms.BooleanField(
                label=f"{label}: by email", required=False, initial=email
            )

    def choices(self) -> dict[str, tuple[bool, bool]]:
        return {
            value: (self.cleaned_data[f"{value}:in_app"], self.cleaned_data[f"{value}:email"])
            for value in registry.notification_events.names()
        }
