from __future__ import annotations

from typing import Any

from django import forms

from apps.validation.checks import CHECKS


class PolicyForm(forms.Form):
    """One optional threshold per known check; an empty field means the check is off."""

    note = forms.CharField(
        max_length=300, help_text="Why the policy changes (kept in its history)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, check in CHECKS.items():
            bound = "at least" if check.comparison == ">=" else "at most"
            self.fields[key] = forms.FloatField(
                label=f"{check.label}: {bound}",
                required=False,
                min_value=0,
                help_text="Leave empty to switch this check off.",
            )
        self.order_fields([*CHECKS, "note"])

    def thresholds(self) -> dict[str, float | None]:
        return {key: self.cleaned_data.get(key) for key in CHECKS}
