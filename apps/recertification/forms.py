from __future__ import annotations

from django import forms

from apps.recertification.models import Attestation
from apps.registry.models import RegisteredModel

STATES = [
    ("", "Any"),
    ("overdue", "Overdue"),
    ("due", "Due within 30 days"),
    ("in_review", "In review"),
    ("upcoming", "Upcoming"),
]


class CalendarFilter(forms.Form):
    team = forms.SlugField(required=False)
    risk_owner = forms.CharField(required=False, max_length=150, label="Risk owner (username)")
    tier = forms.ChoiceField(
        required=False, choices=[("", "Any"), *RegisteredModel.RiskTier.choices], label="Risk tier"
    )
    state = forms.ChoiceField(required=False, choices=STATES)


class AttestForm(forms.Form):
    outcome = forms.ChoiceField(choices=Attestation.Outcome.choices, widget=forms.RadioSelect)
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you checked and why the model is (or is not) still fit: it is the record.",
    )
    replace_by = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="New version needed by",
        help_text="Only when you choose to replace the model.",
    )


class RequestForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why now")


class CadenceForm(forms.Form):
    months = forms.IntegerField(min_value=1, max_value=120, label="Every (months)")
    accepted_alert_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        label="Accepted alerts bring the review forward after (days)",
    )
    note = forms.CharField(max_length=300, help_text="Why the cadence changes.")


class ModelCadenceForm(CadenceForm):
    """A model whose use needs another rhythm than its tier's (its own cadence replaces it)."""

    model = forms.SlugField(label="Model (slug)")
