from __future__ import annotations

from django import forms

from apps.reviews.models import Decision


class RequestReviewForm(forms.Form):
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What changed, what the validation shows, and why it is ready for production.",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Justification for the exception",
        help_text="Needed when the version failed validation: why it should be reviewed anyway. "
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
    model_ops = forms.IntegerField(label="Model operations sign-offs", min_value=0, max_value=5)
    risk_owner = forms.IntegerField(label="Risk owner sign-offs", min_value=0, max_value=5)
    allow_exceptions = forms.BooleanField(
        required=False,
        label="A version that failed validation may go to review with a justification",
    )
    note = forms.CharField(max_length=300, help_text="Why the policy changes.")
