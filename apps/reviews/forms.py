from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Team
from apps.core.templatetags.words import role_group
from apps.registry.forms import RiskOwnerChoice, risk_owners
from apps.registry.models import RegisteredModel
from apps.reviews.models import Decision, ModelChange


class RequestReviewForm(forms.Form):
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What changed, what the validation shows, and why it is ready for production.",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Justification for the exception",
        help_text="Needed when the version failed validation or its required documentation is "
        "not written: why it should be reviewed anyway. "
        "Reviewers and compliance see it flagged.",
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.Verdict.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Part of the record: say what you checked.",
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20_000,
        help_text="Markdown. Mention someone with @username to notify them.",
    )


class ReviewPolicyForm(forms.Form):
    model_ops = forms.IntegerField(
        label=f"Sign-offs from {role_group('model_ops')}", min_value=0, max_value=5
    )
    risk_owner = forms.IntegerField(
        label=f"Sign-offs from {role_group('risk_owner')}", min_value=0, max_value=5
    )
    allow_exceptions = forms.BooleanField(
        required=False,
        label="A version that failed validation may go to review with a justification",
    )
    independent = forms.BooleanField(
        required=False,
        label="Sign-offs and deployments come from outside the model's owning team",
        help_text="A member of the owning team gives neither sign-off, whatever roles they hold, "
        "and does not deploy the team's versions.",
    )
    note = forms.CharField(max_length=300, help_text="Why the policy changes.")


class ChangeProposalForm(forms.Form):
    """One governed change: a new risk tier, risk owner or owning team, with the reason."""

    field = forms.ChoiceField(label="What to change", choices=ModelChange.Field.choices)
    risk_tier = forms.ChoiceField(
        label="New risk tier", choices=RegisteredModel.RiskTier.choices, required=False
    )
    risk_owner = RiskOwnerChoice(label="New risk owner", queryset=risk_owners(), required=False)
    team = forms.ModelChoiceField(
        label="New owning team", queryset=Team.objects.order_by("name"), required=False
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Part of the record: why the change is needed.",
    )

    def __init__(self, *args: Any, model: RegisteredModel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["risk_owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = risk_owners()
        if model is not None:
            self.fields["risk_tier"].initial = model.risk_tier

    def value(self) -> str:
        """The proposed value as the service takes it (a tier, a username or a team slug)."""
        chosen = self.cleaned_data.get(self.cleaned_data["field"])
        if chosen is None or chosen == "":
            raise forms.ValidationError("Choose the new value.")
        return str(getattr(chosen, "username", None) or getattr(chosen, "slug", None) or chosen)


class ChangeDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
