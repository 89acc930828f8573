"""The monitoring policy form: one optional level per check."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.monitoring.models import MonitoringReview
from apps.monitoring.policies import LEVELS


class PolicyForm(forms.Form):
    note = forms.CharField(
        max_length=300, help_text="Why the policy changes (kept in its history)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, level in LEVELS.items():
            self.fields[name] = forms.FloatField(
                label=level.label,
                required=False,
                min_value=0,
                help_text=f"{level.help}. Leave empty to switch this check off.",
            )
        self.order_fields([*LEVELS, "note"])

    def levels(self) -> dict[str, float | None]:
        return {name: self.cleaned_data.get(name) for name in LEVELS}


class RemovePolicyForm(forms.Form):
    note = forms.CharField(max_length=300, strip=True)


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=MonitoringReview.Decision.choices)
    reason = forms.CharField(max_length=2000, strip=True)
    look_again_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="For “accept for now”: by when it must be looked at again.",
    )
