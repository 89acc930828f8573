"""The forms the findings pages post; the services check the rest (who, which state)."""

from __future__ import annotations

from django import forms

from apps.findings.models import Finding


class RaiseForm(forms.Form):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Finding.Severity.choices)
    category = forms.ChoiceField(choices=Finding.Category.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    owner = forms.CharField(
        max_length=150, help_text="The username of a member of the model's team."
    )
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class RemediationForm(forms.Form):
    remediation = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000)


class RegisterFilter(forms.Form):
    """The register's filters; a value not offered is an error at its field."""

    severity = forms.ChoiceField(choices=[("", "Any"), *Finding.Severity.choices], required=False)
    state = forms.ChoiceField(
        choices=[("", "Any"), ("unclosed", "Not closed"), *Finding.State.choices], required=False
    )
    category = forms.ChoiceField(choices=[("", "Any"), *Finding.Category.choices], required=False)
    overdue = forms.BooleanField(required=False)
    model = forms.SlugField(required=False)
    team = forms.SlugField(required=False)
    owner = forms.CharField(max_length=150, required=False)
