from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.documentation.models import Export
from apps.registry.models import RegisteredModel


class NarrativeForm(forms.Form):
    """One Markdown field per narrative section of the template, in its order."""

    def __init__(self, *args: Any, sections: list[dict], required: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for section in sections:
            mapping = " · ".join(f"{k}: {v}" for k, v in section.get("mapping", {}).items())
            self.fields[section["key"]] = forms.CharField(
                label=section["title"]
                + (" (required for review)" if section["key"] in required else ""),
                required=False,
                widget=forms.Textarea(attrs={"rows": 6, "class": "markdown"}),
                help_text=" — ".join(part for part in (section.get("help", ""), mapping) if part),
            )


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=Export.Format.choices)


class TemplateForm(forms.Form):
    sections = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
        help_text="A JSON list of sections: key, title, kind (narrative, or the part the portal "
        "fills), help, and mapping (framework → heading).",
    )
    note = forms.CharField(max_length=300, help_text="Why the template changes.")

    def clean_sections(self) -> Any:
        try:
            return json.loads(self.cleaned_data["sections"])
        except json.JSONDecodeError as problem:
            raise forms.ValidationError(
                f"This is not valid JSON: {problem.msg} at line {problem.lineno}, "
                f"column {problem.colno}."
            ) from None


class PolicyForm(forms.Form):
    risk_tier = forms.ChoiceField(
        choices=RegisteredModel.RiskTier.choices, widget=forms.HiddenInput
    )
    required = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Required before review"
    )
    note = forms.CharField(max_length=300, help_text="Why the policy changes.")

    def __init__(self, *args: Any, sections: list[dict], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["required"].choices = [(s["key"], s["title"]) for s in sections]  # type: ignore[attr-defined]
