from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from apps.accounts.models import Team
from apps.accounts.roles import Role
from apps.core.permissions import can
from apps.registry.models import RegisteredModel


def risk_owners() -> Any:
    return User.objects.filter(groups__name=Role.RISK_OWNER, is_active=True).order_by("username")


class RiskOwnerChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.get_full_name() or obj.username} ({obj.username})"


class TagsField(forms.Field):
    widget = forms.TextInput

    def to_python(self, value: Any) -> list[str]:
        text = str(value or "")
        return [t.strip() for t in text.split(",") if t.strip()]

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value


class ModelDetailsForm(forms.Form):
    """The details a data scientist gives when registering a model, and may edit later."""

    name = forms.CharField(max_length=120)
    use_case = forms.CharField(
        label="Business use case",
        max_length=200,
        help_text="What decision the model supports, e.g. “approve consumer loans up to €50k”.",
    )
    description = forms.CharField(widget=forms.Textarea, required=False)
    risk_tier = forms.ChoiceField(choices=RegisteredModel.RiskTier.choices)
    risk_owner = RiskOwnerChoice(
        queryset=risk_owners(), help_text="The business owner who signs off."
    )
    tags = TagsField(required=False, help_text="Comma-separated, e.g. “credit, retail”.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        risk_owner = self.fields["risk_owner"]
        assert isinstance(risk_owner, forms.ModelChoiceField)
        risk_owner.queryset = risk_owners()


class ModelEditForm(forms.Form):
    """What the owning team edits directly. The risk tier, risk owner and team are governed
    changes, proposed on the model page."""

    name = forms.CharField(max_length=120)
    use_case = forms.CharField(label="Business use case", max_length=200)
    description = forms.CharField(widget=forms.Textarea, required=False)
    tags = TagsField(required=False, help_text="Comma-separated, e.g. “credit, retail”.")


class RegisterModelForm(ModelDetailsForm):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), help_text="The team that owns it.")
    field_order = ["name", "team", "use_case", "description", "risk_tier", "risk_owner", "tags"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        any_team = can(user, "registry.administer_registeredmodel")
        teams = Team.objects.all() if any_team else Team.objects.filter(group__user=user)
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)
        team.queryset = teams
        if teams.count() == 1:
            team.initial = teams.first()


class UploadVersionForm(forms.Form):
    artifact = forms.FileField(help_text="The trained model saved with skops.io.dump (.skops).")
    holdout = forms.FileField(
        label="Holdout data", help_text="CSV or Parquet rows the model never saw in training."
    )
    target_column = forms.CharField(
        max_length=200, help_text="The holdout column holding the true outcome."
    )
    reference = forms.FileField(
        label="Reference sample (optional)",
        required=False,
        help_text="A sample of the training data, to measure drift against.",
    )
    sensitive_column = forms.CharField(
        label="Sensitive column (optional)",
        max_length=200,
        required=False,
        help_text="A holdout column such as an age band, to measure fairness across its groups.",
    )
    notes = forms.CharField(label="Release notes", widget=forms.Textarea, required=False)


class ShareForm(forms.Form):
    grantee = forms.CharField(
        label="Share with", help_text="A username, or a team as team:<slug> (e.g. team:fraud)."
    )
    level = forms.ChoiceField(choices=[("view", "Can view"), ("change", "Can view and change")])

    def grantee_id(self) -> str:
        value = self.cleaned_data["grantee"].strip()
        if value.startswith("team:"):
            return f"group:{value}"
        return value if value.startswith(("user:", "group:")) else f"user:{value}"
