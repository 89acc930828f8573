from __future__ import annotations

from django import forms
from django.conf import settings

EXPIRY_CHOICES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year")]


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Where you will use it, e.g. “laptop CLI” or “CI pipeline”.",
    )
    days = forms.TypedChoiceField(
        label="Expires after",
        coerce=int,
        choices=[(d, label) for d, label in EXPIRY_CHOICES if d <= settings.PORTAL_TOKEN_MAX_DAYS],
        initial=settings.PORTAL_TOKEN_DEFAULT_DAYS,
    )
